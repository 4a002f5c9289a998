/* fuzz-pipeline.c: mact_pipeline_new_from_config() on arbitrary JSON, and a run of each
 * pipeline that builds on a few tiny frames held in memory (mact_pipeline_run_array()).
 *
 * The JSON is parsed with json-glib directly, after a depth check, so that the inputs
 * reach the builder rather than the config loader (fuzz-config covers that).  Numbers are
 * bounded by 64 before running, so that a crop or resize cannot ask for gigabytes; the
 * frames are 5 x 7 x 9, so the bound still covers every crop larger than the frame. */
#include "fuzz-common.h"

#include <stdlib.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static MactTensor *frames;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  mact_fuzz_init ();
  const gint64 shape[] = { 5, 7, 9, 3 };
  static float values[5 * 7 * 9 * 3];
  for (gsize i = 0; i < G_N_ELEMENTS (values); i++)
    values[i] = (float) ((i * 37) % 256);
  frames = mact_tensor_new_from_data (values, G_N_ELEMENTS (values), 4, shape, NULL);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* A valid pipeline nests four levels; json-glib's parser recurses without a limit. */
  if (!mact_fuzz_json_text_is_shallow (data, size, 64))
    return 0;

  g_autoptr(JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, (const char *) data, (gssize) size, NULL))
    return 0;
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL)
    return 0;

  g_autoptr(GError) error = NULL;
  g_autoptr(MactPipeline) pipeline = mact_pipeline_new_from_config (root, &error);
  if (pipeline == NULL)
    {
      if (error == NULL || error->domain != MACT_CONFIG_ERROR)
        abort ();
      return 0;
    }
  if (!mact_fuzz_json_is_small (root, 16, 64, 64.0, 512, NULL))
    return 0;

  g_autoptr(MactGenerator) rng = mact_generator_new (42);
  g_autoptr(MactTensorDict) out = mact_pipeline_run_array (pipeline, frames, NULL, rng,
                                                           &error);
  if ((out == NULL) == (error == NULL))
    abort ();
  return 0;
}
