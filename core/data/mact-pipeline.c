/* mact-pipeline.c: MactPipeline (placeholder until the transforms land). */
#include <mact/mact.h>

struct _MactPipeline
{
  GObject parent_instance;
};

G_DEFINE_FINAL_TYPE (MactPipeline, mact_pipeline, G_TYPE_OBJECT)

static void mact_pipeline_class_init (MactPipelineClass *klass) {}
static void mact_pipeline_init (MactPipeline *self) {}

MactPipeline *
mact_pipeline_new_from_config (JsonNode *pipeline_cfg, GError **error)
{
  g_set_error_literal (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID, "not implemented");
  return NULL;
}

MactTensorDict *
mact_pipeline_run_video (MactPipeline *self, const char *filename, MactTensor *label,
                         MactGenerator *rng, GError **error)
{
  g_set_error_literal (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID, "not implemented");
  return NULL;
}

MactTensorDict *
mact_pipeline_run_rawframes (MactPipeline *self, const char *frame_dir, gint64 total_frames,
                             const char *filename_tmpl, gint start_index, MactTensor *label,
                             MactGenerator *rng, GError **error)
{
  g_set_error_literal (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID, "not implemented");
  return NULL;
}

MactTensorDict *
mact_pipeline_run_array (MactPipeline *self, MactTensor *frames, MactTensor *label,
                         MactGenerator *rng, GError **error)
{
  g_set_error_literal (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID, "not implemented");
  return NULL;
}
