/* mact-pipeline-private.h: what the pipeline's transform files share: the per-run state
 * (mmaction2's `results` dict), the transform vtable, and the helpers that read a step's
 * config dict with mmaction2's names and defaults.  Not installed. */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

/* ------------------------------------------------------------------ reading step configs */

/* One step's config dict while its transform is being built.  Every getter records the
 * key it was asked for, so that mact_step_config_check_keys() can reject the keys nobody
 * asked for and list the ones the step takes. */
typedef struct {
  guint       index;    /* position in the pipeline list */
  const char *type;     /* the step's "type" */
  JsonObject *obj;
  GPtrArray  *known;    /* (element-type utf8) keys asked for; static strings */
} MactStepConfig;

/* Sets @error in MACT_CONFIG_ERROR with "pipeline step N (Type): key 'KEY' ..." (or
 * "pipeline step N (Type): ..." when @key is NULL). */
void      mact_step_error         (const MactStepConfig *cfg,
                                   GError              **error,
                                   gint                  code,
                                   const char           *key,
                                   const char           *format,
                                   ...) G_GNUC_PRINTF (5, 6);

/* The member @key (recording it as known), or NULL when absent.  A JSON null counts as
 * absent for the typed getters below: mmaction2's None means "the default". */
JsonNode *mact_step_config_lookup (MactStepConfig       *cfg,
                                   const char           *key);

gboolean  mact_step_config_get_int    (MactStepConfig *cfg,
                                       const char     *key,
                                       gint64          def,
                                       gint64          min,
                                       gint64          max,
                                       gint64         *out,
                                       GError        **error);
gboolean  mact_step_config_get_bool   (MactStepConfig *cfg,
                                       const char     *key,
                                       gboolean        def,
                                       gboolean       *out,
                                       GError        **error);
/* A number in [min, max]; @min_open excludes @min itself (for "must be positive"). */
gboolean  mact_step_config_get_double (MactStepConfig *cfg,
                                       const char     *key,
                                       double          def,
                                       double          min,
                                       gboolean        min_open,
                                       double          max,
                                       double         *out,
                                       GError        **error);
/* A string among the NULL-terminated @choices; *out is its position. */
gboolean  mact_step_config_get_choice (MactStepConfig     *cfg,
                                       const char         *key,
                                       const char *const  *choices,
                                       guint               def,
                                       guint              *out,
                                       GError            **error);
/* mmaction2's _pair(): an int n (meaning (n, n)) or a [w, h] pair of ints, each >= 1.
 * Required when @def is NULL. */
gboolean  mact_step_config_get_size   (MactStepConfig *cfg,
                                       const char     *key,
                                       const gint64   *def,
                                       gint64          out[2],
                                       GError        **error);
/* A required [a, b] pair of ints (any values: the caller checks them). */
gboolean  mact_step_config_get_int_pair (MactStepConfig *cfg,
                                         const char     *key,
                                         gint64          out[2],
                                         GError        **error);
/* An array of @n numbers (any length in [n_min, n_max] when @n_out is not NULL; then
 * exactly @n_min otherwise).  @out has room for @n_max.  Required when @def is NULL, else
 * @def (@n_min values) is used when absent. */
gboolean  mact_step_config_get_doubles (MactStepConfig *cfg,
                                        const char     *key,
                                        const double   *def,
                                        gsize           n_min,
                                        gsize           n_max,
                                        double         *out,
                                        gsize          *n_out,
                                        GError        **error);
/* An array of strings (required when @def_empty is FALSE; an empty list otherwise). */
gboolean  mact_step_config_get_strings (MactStepConfig *cfg,
                                        const char     *key,
                                        gboolean        def_empty,
                                        GStrv          *out,
                                        GError        **error);
/* "io_backend": only 'disk' is readable (mact has no petrel/memcached/http clients). */
gboolean  mact_step_config_get_io_backend (MactStepConfig *cfg,
                                           GError        **error);
/* Rejects "lazy": true (mmaction2's lazy mode needs its Fuse step, which mact does not
 * have); false or absent is fine. */
gboolean  mact_step_config_check_not_lazy (MactStepConfig *cfg,
                                           GError        **error);
/* MACT_CONFIG_ERROR_UNKNOWN_KEY for a key no getter asked for. */
gboolean  mact_step_config_check_keys (MactStepConfig *cfg,
                                       GError        **error);

/* ------------------------------------------------------------------ the run state */

typedef enum {
  MACT_PIPELINE_SOURCE_VIDEO,
  MACT_PIPELINE_SOURCE_RAWFRAMES,
  MACT_PIPELINE_SOURCE_ARRAY,
  MACT_PIPELINE_SOURCE_NONE,      /* index sampling only */
} MactPipelineSource;

typedef struct _MactFilenameTemplate MactFilenameTemplate;

MactFilenameTemplate *mact_filename_template_parse  (const char                 *tmpl,
                                                     GError                    **error);
char                 *mact_filename_template_format (const MactFilenameTemplate *tmpl,
                                                     gint64                      index);
void                  mact_filename_template_free   (MactFilenameTemplate       *tmpl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MactFilenameTemplate, mact_filename_template_free)

/* Which results keys the output dict gets (Collect's `keys`). */
typedef enum {
  MACT_PIPELINE_KEY_IMGS  = 1 << 0,
  MACT_PIPELINE_KEY_LABEL = 1 << 1,
} MactPipelineKeys;

/* mmaction2's `results` dict for one run: owned by the run, never shared, so one
 * MactPipeline can run on several threads at once. */
typedef struct {
  /* where frames come from */
  MactPipelineSource          source;
  MactVideoReader            *reader;        /* VIDEO */
  const char                 *frame_dir;     /* RAWFRAMES */
  const MactFilenameTemplate *tmpl;          /* RAWFRAMES */
  MactTensor                 *array;         /* ARRAY: contiguous [T, H, W, 3] */
  gint64                      total_frames;
  gint64                      start_index;
  MactGenerator              *rng;

  /* set by the sampler */
  gint64                     *frame_inds;
  gsize                       n_frame_inds;
  gint64                      clip_len;
  gint64                      frame_interval;
  gint64                      num_clips;

  /* set by the decoder: [M, H, W, 3] float32 RGB 0-255, contiguous, owned by the run
   * (transforms may write into it); FormatShape replaces it with the final layout */
  MactTensor                 *imgs;
  gboolean                    formatted;
  double                      scale_factor[2];   /* (w, h), as mmaction2 keeps it */
  gboolean                    flip;

  MactTensor                 *label;
  MactPipelineKeys            keys;
} MactPipelineState;

/* ------------------------------------------------------------------ transforms */

/* Where a step may stand: samplers first, then (optionally) an init step, the decode
 * step, image transforms, FormatShape; Collect and ToTensor anywhere after decoding. */
typedef enum {
  MACT_STEP_SAMPLE,
  MACT_STEP_INIT,
  MACT_STEP_DECODE,
  MACT_STEP_IMAGE,
  MACT_STEP_FORMAT,
  MACT_STEP_COLLECT,
} MactStepKind;

typedef struct _MactTransform MactTransform;

/* A built step.  Transforms are immutable once built: everything a run changes is in
 * the MactPipelineState. */
struct _MactTransform {
  const char    *type;    /* static */
  guint          index;
  MactStepKind   kind;
  gboolean     (*apply) (const MactTransform *self,
                         MactPipelineState   *state,
                         GError             **error);
  void         (*free)  (MactTransform       *self);
};

/* Allocates a transform of @size bytes (a struct starting with MactTransform). */
gpointer  mact_transform_alloc (gsize                size,
                                const MactStepConfig *cfg,
                                MactStepKind          kind,
                                gpointer              apply,
                                gpointer              free_func);
void      mact_transform_free  (MactTransform        *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MactTransform, mact_transform_free)

/* A MACT_CONFIG_ERROR raised while running a step (a crop larger than the frames, ...). */
void      mact_transform_error (const MactTransform  *self,
                                GError              **error,
                                gint                  code,
                                const char           *key,
                                const char           *format,
                                ...) G_GNUC_PRINTF (5, 6);

typedef MactTransform *(*MactTransformBuild) (MactStepConfig *cfg,
                                              GError        **error);

/* mact-transform-loading.c */
MactTransform *mact_transform_sample_frames_new   (MactStepConfig *cfg, GError **error);
MactTransform *mact_transform_dense_sample_new    (MactStepConfig *cfg, GError **error);
MactTransform *mact_transform_untrimmed_sample_new (MactStepConfig *cfg, GError **error);
MactTransform *mact_transform_decord_init_new     (MactStepConfig *cfg, GError **error);
MactTransform *mact_transform_opencv_init_new     (MactStepConfig *cfg, GError **error);
MactTransform *mact_transform_pyav_init_new       (MactStepConfig *cfg, GError **error);
MactTransform *mact_transform_decord_decode_new   (MactStepConfig *cfg, GError **error);
MactTransform *mact_transform_opencv_decode_new   (MactStepConfig *cfg, GError **error);
MactTransform *mact_transform_pyav_decode_new     (MactStepConfig *cfg, GError **error);
MactTransform *mact_transform_rawframe_decode_new (MactStepConfig *cfg, GError **error);
MactTransform *mact_transform_array_decode_new    (MactStepConfig *cfg, GError **error);

/* mact-transform-augment.c */
MactTransform *mact_transform_resize_new          (MactStepConfig *cfg, GError **error);
MactTransform *mact_transform_random_rescale_new  (MactStepConfig *cfg, GError **error);
MactTransform *mact_transform_random_crop_new     (MactStepConfig *cfg, GError **error);
MactTransform *mact_transform_random_resized_crop_new (MactStepConfig *cfg, GError **error);
MactTransform *mact_transform_multi_scale_crop_new (MactStepConfig *cfg, GError **error);
MactTransform *mact_transform_center_crop_new     (MactStepConfig *cfg, GError **error);
MactTransform *mact_transform_three_crop_new      (MactStepConfig *cfg, GError **error);
MactTransform *mact_transform_ten_crop_new        (MactStepConfig *cfg, GError **error);
MactTransform *mact_transform_flip_new            (MactStepConfig *cfg, GError **error);
MactTransform *mact_transform_normalize_new       (MactStepConfig *cfg, GError **error);

/* mact-transform-format.c */
MactTransform *mact_transform_format_shape_new    (MactStepConfig *cfg, GError **error);
MactTransform *mact_transform_collect_new         (MactStepConfig *cfg, GError **error);
MactTransform *mact_transform_to_tensor_new       (MactStepConfig *cfg, GError **error);

/* ------------------------------------------------------------------ random draws */

/* numpy's randint(n): uniform in [0, n), n >= 1. */
static inline gint64
mact_pipeline_randint (MactGenerator *rng, gint64 n)
{
  return (gint64) (mact_generator_next_uint64 (rng) % (guint64) n);
}

/* numpy's uniform(lo, hi). */
static inline double
mact_pipeline_uniform (MactGenerator *rng, double lo, double hi)
{
  return lo + (hi - lo) * mact_generator_next_double (rng);
}

G_END_DECLS
