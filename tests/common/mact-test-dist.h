/* mact-test-dist.h: what the distributed-training tests share (test-distributed,
 * test-mpi, test-mpi-cli): a tiny training config and file helpers.
 *
 * The model is the runner tests' tiny Recognizer3D (native ResNet3d-18 with 4 base
 * channels, I3DHead, 4 classes) on 16x16x4 synthetic clips, with what makes data-parallel
 * training comparable to one process exactly: BatchNorm kept in eval mode (norm_eval, so
 * its statistics do not depend on the per-rank batch), no dropout, no prefetch threads. */
#pragma once

#include "mact-test.h"

#include <math.h>
#include <glib/gstdio.h>

#define MACT_TEST_DIST_CONFIG \
  "{" \
  " \"model\": {\"type\": \"Recognizer3D\"," \
  "   \"backbone\": {\"type\": \"ResNet3d\", \"depth\": 18, \"base_channels\": 4," \
  "                  \"pretrained\": null, \"pretrained2d\": false," \
  "                  \"conv1_kernel\": [3, 3, 3], \"norm_eval\": true}," \
  "   \"cls_head\": {\"type\": \"I3DHead\", \"num_classes\": 4, \"in_channels\": 32," \
  "                  \"spatial_type\": \"avg\", \"dropout_ratio\": 0.0}," \
  "   \"train_cfg\": null," \
  "   \"test_cfg\": {\"average_clips\": \"prob\"}}," \
  " \"data\": {\"videos_per_gpu\": %u, \"workers_per_gpu\": 0," \
  "   \"train\": {\"type\": \"SyntheticActionDataset\", \"num_classes\": 4," \
  "               \"num_samples\": %u, \"split\": \"train\", \"seed\": 3, \"clip_len\": 4," \
  "               \"num_clips\": 1, \"height\": 16, \"width\": 16, \"noise\": 0.02," \
  "               \"clutter\": 0, \"input_format\": \"NCTHW\"}," \
  "   \"val\": {\"type\": \"SyntheticActionDataset\", \"num_classes\": 4," \
  "             \"num_samples\": 8, \"split\": \"val\", \"seed\": 3, \"clip_len\": 4," \
  "             \"num_clips\": 1, \"height\": 16, \"width\": 16, \"noise\": 0.02," \
  "             \"clutter\": 0, \"input_format\": \"NCTHW\"}}," \
  " \"optimizer\": {\"type\": \"SGD\", \"lr\": 0.05, \"momentum\": 0.9," \
  "                 \"weight_decay\": 0.0001}," \
  " \"optimizer_config\": {\"grad_clip\": {\"max_norm\": 40, \"norm_type\": 2}}," \
  " \"lr_config\": {\"policy\": \"step\", \"step\": [2]}," \
  " \"total_epochs\": %u," \
  " \"checkpoint_config\": {\"interval\": 1}," \
  " \"evaluation\": {\"interval\": 1, \"save_best\": \"auto\"}," \
  " \"log_config\": {\"interval\": 1}," \
  " \"seed\": 7" \
  "}"

/* The config text with @batch videos per process, @samples training clips, @epochs. */
static inline char *
mact_test_dist_config_text (guint batch, guint samples, guint epochs)
{
  return g_strdup_printf (MACT_TEST_DIST_CONFIG, batch, samples, epochs);
}

static inline JsonNode *
mact_test_dist_config (guint batch, guint samples, guint epochs)
{
  g_autofree char *text = mact_test_dist_config_text (batch, samples, epochs);
  g_autoptr(GError) error = NULL;
  JsonNode *node = mact_config_load_data (text, -1, &error);
  assert_null (error);
  assert_non_null (node);
  return node;
}

static inline char *
mact_test_dist_tmp_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("mact-dist-XXXXXX", &error);
  assert_null (error);
  return dir;
}

static inline gboolean
mact_test_dist_exists_in (const char *dir, const char *file)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* The largest |a - b| / max(1, |b|) over all state entries of two modules. */
static inline double
mact_test_dist_state_diff (MactModule *a, MactModule *b)
{
  g_autoptr(MactTensorDict) sa = mact_module_state_dict (a);
  g_autoptr(MactTensorDict) sb = mact_module_state_dict (b);
  assert_int_equal (mact_tensor_dict_get_size (sa), mact_tensor_dict_get_size (sb));
  double worst = 0;
  for (guint i = 0; i < mact_tensor_dict_get_size (sa); i++)
    {
      MactTensor *tb = mact_tensor_dict_lookup (sb, mact_tensor_dict_get_key (sa, i));
      assert_non_null (tb);
      g_autoptr(MactTensor) ca = mact_tensor_contiguous (mact_tensor_dict_get_value (sa, i));
      g_autoptr(MactTensor) cb = mact_tensor_contiguous (tb);
      assert_int_equal (mact_tensor_get_numel (ca), mact_tensor_get_numel (cb));
      const float *da = mact_tensor_get_data (ca), *db = mact_tensor_get_data (cb);
      for (gint64 j = 0; j < mact_tensor_get_numel (ca); j++)
        {
          const double d = fabs ((double) da[j] - db[j]) / MAX (1.0, fabs ((double) db[j]));
          worst = MAX (worst, d);
        }
    }
  return worst;
}
