r"""A tiny config for tests and smoke runs on a CPU (seconds, not accuracy).

  python -m hardattn.main --config=configs/test.py --workdir=/tmp/hardattn_test
"""

from hardattn import base_config


def get_config(arg=None):
  args = base_config.parse_arg(arg, model='han_rn')
  config = base_config.base_config()
  config.model_name = args.model
  config.sort_of_clevr.num_train_images = 40
  config.sort_of_clevr.num_test_images = 10
  config.batch_size = 16
  config.questions_per_image = 4  # 4 images of 4 questions a batch
  config.eval_batch_size = 32
  config.data_threads = 1
  config.model.cnn_features = (8, 8, 8, 8)
  config.model.fusion_features = (16,)
  config.model.g_features = (16, 16)
  config.model.f_features = (16,)
  config.model.dropout_rate = 0.0
  config.optimizer.learning_rate = 1e-3
  config.optimizer.schedule = 'constant'
  config.optimizer.warmup_steps = 0
  config.num_train_steps = 20
  config.log_every_steps = 5
  config.eval_every_steps = 10
  config.checkpoint_every_steps = 10
  config.num_pictures = 4
  config.bn_stats_images = 8
  if config.model_name == 'cnn_mlp':
    base_config.remove_attention_fields(config.model)
    config.model.hidden_features = (16,)
  attention, _, aggregation = config.model_name.partition('_')
  if attention in ('san', 'smem'):
    base_config.use_soft_attention(config, attention, hops=2,
                                   rn=aggregation == 'rn')
    config.model.attention_dim = 16
  return config
