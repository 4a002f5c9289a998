/* mact-pipeline.h: mmaction2's data pipelines (SampleFrames, decode, Resize, crops, Flip,
 * Normalize, FormatShape, ...), built from a config's pipeline list. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <glib-object.h>
#include <json-glib/json-glib.h>
#include <mact/mact-version-macros.h>
#include <mact/mact-generator.h>
#include <mact/mact-tensor.h>
#include <mact/mact-tensor-dict.h>

G_BEGIN_DECLS

#define MACT_TYPE_PIPELINE (mact_pipeline_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactPipeline, mact_pipeline, MACT, PIPELINE, GObject)

/* Builds a pipeline from a JSON array of transform dicts (mmaction2's `train_pipeline`,
 * `val_pipeline`, `test_pipeline`), each {"type": ..., parameters...} with mmaction2's
 * names.  An unknown type, an unknown or ill-typed key, or an impossible combination is
 * a MACT_CONFIG_ERROR naming the step (its index and type) and the key.  Init and decode
 * steps of every mmaction2 backend (DecordInit/OpenCVInit/PyAVInit, DecordDecode/
 * OpenCVDecode/PyAVDecode, RawFrameDecode, ArrayDecode) are accepted and all read
 * through FFmpeg; the entry point used decides where frames come from. */
MACT_AVAILABLE_IN_0_1
MactPipeline   *mact_pipeline_new_from_config  (JsonNode       *pipeline_cfg,
                                                GError        **error);

/* Runs the pipeline on a video file.  @label (nullable) is stored under "label" as
 * given.  Random steps draw from @rng (nullable: the default generator).  Returns a dict
 * with "imgs" ([V, C, H, W] for NCHW, [V, C, T, H, W] for NCTHW) and "label" if given
 * (a Collect step keeps only the keys it lists, as in mmaction2).  One pipeline may run
 * on several threads at once. */
MACT_AVAILABLE_IN_0_1
MactTensorDict *mact_pipeline_run_video        (MactPipeline   *self,
                                                const char     *filename,
                                                MactTensor     *label,
                                                MactGenerator  *rng,
                                                GError        **error);
/* The same on a rawframe directory: frame i (0-based sampled index) is read from
 * @frame_dir / @filename_tmpl formatted with i + @start_index.  @filename_tmpl uses
 * Python's format syntax as mmaction2 does ("img_{:05}.jpg", the default when NULL). */
MACT_AVAILABLE_IN_0_1
MactTensorDict *mact_pipeline_run_rawframes    (MactPipeline   *self,
                                                const char     *frame_dir,
                                                gint64          total_frames,
                                                const char     *filename_tmpl,
                                                gint            start_index,
                                                MactTensor     *label,
                                                MactGenerator  *rng,
                                                GError        **error);
/* The same on frames already in memory: @frames is float32 [T, H, W, 3], RGB 0-255
 * (mmaction2's ArrayDecode input). */
MACT_AVAILABLE_IN_0_1
MactTensorDict *mact_pipeline_run_array        (MactPipeline   *self,
                                                MactTensor     *frames,
                                                MactTensor     *label,
                                                MactGenerator  *rng,
                                                GError        **error);

/* Runs only the sampler steps (SampleFrames, ...): the frame indices, clip after clip,
 * that a run on a video of @total_frames frames would decode, each plus @start_index.
 * Free with g_free(). */
MACT_AVAILABLE_IN_0_1
gint64         *mact_pipeline_sample_indices   (MactPipeline   *self,
                                                gint64          total_frames,
                                                gint            start_index,
                                                MactGenerator  *rng,
                                                gsize          *n_indices,
                                                GError        **error);

G_END_DECLS
