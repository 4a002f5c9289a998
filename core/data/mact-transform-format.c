/* mact-transform-format.c: mmaction2's formatting steps (mmaction/datasets/pipelines/
 * formatting.py, 0.x): FormatShape lays the frames out as the recognizers expect;
 * Collect and ToTensor pick the output keys. */
#include "mact-pipeline-private.h"

#include <string.h>

/* ------------------------------------------------------------------ FormatShape */

typedef struct {
  MactTransform parent;
  gboolean      ncthw;
  gboolean      collapse;
} FormatShape;

/* Rewrites each of @n_blocks consecutive blocks of @positions x @channels floats as
 * @channels x @positions, in place, through a block-sized scratch buffer.  Both of
 * FormatShape's layouts are this per-block transpose: NCHW per frame ([H W, C] -> [C, H W])
 * and NCTHW per view ([L H W, C] -> [C, L H W]).  Doing it in place spares a second
 * frames-sized allocation, whose page faults cost more than the copy itself (TSN's
 * 250-crop test view is 150 MB). */
static void
transpose_blocks (float *data, gint64 n_blocks, gint64 positions, gint64 channels)
{
  gint64 block = positions * channels;
  g_autofree float *scratch = g_new (float, block);
  for (gint64 b = 0; b < n_blocks; b++)
    {
      float *base = data + b * block;
      memcpy (scratch, base, block * sizeof (float));
      for (gint64 k = 0; k < channels; k++)
        {
          float *plane = base + k * positions;
          const float *src = scratch + k;
          for (gint64 p = 0; p < positions; p++)
            plane[p] = src[p * channels];
        }
    }
}

static gboolean
format_shape_apply (const MactTransform *t, MactPipelineState *st, GError **error)
{
  const FormatShape *fs = (const FormatShape *) t;
  const gint64 *shape = mact_tensor_get_shape (st->imgs, NULL);
  gint64 m = shape[0], h = shape[1], w = shape[2], c = shape[3];

  if (fs->collapse && st->num_clips != 1)
    {
      mact_transform_error (t, error, MACT_CONFIG_ERROR_INVALID_VALUE, "collapse",
                            "needs num_clips 1, got %" G_GINT64_FORMAT, st->num_clips);
      return FALSE;
    }

  gint ndim;
  gint64 out_shape[5];
  if (!fs->ncthw)
    {
      /* [M, H, W, C] -> [M, C, H, W] */
      ndim = 4;
      out_shape[0] = m;
      out_shape[1] = c;
      out_shape[2] = h;
      out_shape[3] = w;
      transpose_blocks (mact_tensor_get_data (st->imgs), m, h * w, c);
    }
  else
    {
      /* [M, H, W, C] -> [crops, clips, L, H, W, C] -> [crops * clips, C, L, H, W] */
      gint64 group = st->num_clips * st->clip_len;
      if (group <= 0 || m % group != 0)
        {
          mact_transform_error (t, error, MACT_CONFIG_ERROR_INVALID, NULL,
                                "%" G_GINT64_FORMAT " frames do not split into clips of "
                                "num_clips %" G_GINT64_FORMAT " x clip_len %" G_GINT64_FORMAT,
                                m, st->num_clips, st->clip_len);
          return FALSE;
        }
      gint64 len = st->clip_len, views = m / len;
      ndim = 5;
      out_shape[0] = views;
      out_shape[1] = c;
      out_shape[2] = len;
      out_shape[3] = h;
      out_shape[4] = w;
      transpose_blocks (mact_tensor_get_data (st->imgs), views, len * h * w, c);
    }

  if (fs->collapse)
    {
      /* N... -> ... when N is 1 (detectors' layout). */
      if (out_shape[0] != 1)
        {
          mact_transform_error (t, error, MACT_CONFIG_ERROR_INVALID_VALUE, "collapse",
                                "needs a single view, got %" G_GINT64_FORMAT, out_shape[0]);
          return FALSE;
        }
      memmove (out_shape, out_shape + 1, (ndim - 1) * sizeof (gint64));
      ndim--;
    }

  MactTensor *out = mact_tensor_view (st->imgs, ndim, out_shape, error);
  if (out == NULL)
    return FALSE;
  g_clear_pointer (&st->imgs, mact_tensor_unref);
  st->imgs = out;
  st->formatted = TRUE;
  return TRUE;
}

MactTransform *
mact_transform_format_shape_new (MactStepConfig *cfg, GError **error)
{
  g_autofree FormatShape *fs = mact_transform_alloc (sizeof (FormatShape), cfg,
                                                     MACT_STEP_FORMAT, format_shape_apply,
                                                     NULL);
  JsonNode *node = mact_step_config_lookup (cfg, "input_format");
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_MISSING_KEY, "input_format",
                       "is required ('NCHW' or 'NCTHW')");
      return NULL;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_WRONG_TYPE, "input_format",
                       "expects a string, got %s", mact_config_describe_value (node));
      return NULL;
    }
  const char *format = json_node_get_string (node);
  if (g_str_equal (format, "NCHW_Flow") || g_str_equal (format, "NPTCHW"))
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, "input_format",
                       "'%s' is for optical flow or proposals, which mact's RGB pipelines do "
                       "not carry; use 'NCHW' or 'NCTHW'", format);
      return NULL;
    }
  if (!g_str_equal (format, "NCHW") && !g_str_equal (format, "NCTHW"))
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, "input_format",
                       "must be 'NCHW' or 'NCTHW', got '%s'", format);
      return NULL;
    }
  fs->ncthw = g_str_equal (format, "NCTHW");
  if (!mact_step_config_get_bool (cfg, "collapse", FALSE, &fs->collapse, error) ||
      !mact_step_config_check_keys (cfg, error))
    return NULL;
  return (MactTransform *) g_steal_pointer (&fs);
}

/* ------------------------------------------------------------------ Collect, ToTensor */

typedef struct {
  MactTransform    parent;
  MactPipelineKeys keys;
  gboolean         select;     /* Collect: the output keeps only these */
} KeysStep;

static gboolean
collect_apply (const MactTransform *t, MactPipelineState *st, GError **error)
{
  const KeysStep *k = (const KeysStep *) t;
  if (k->select)
    st->keys = k->keys;
  return TRUE;
}

/* The results keys a mact pipeline has: mmaction2's others (filename, img_shape, ...)
 * are metadata that the recognizers never read. */
static gboolean
read_keys (MactStepConfig *cfg, const char *key, MactPipelineKeys *out, GError **error)
{
  g_auto(GStrv) keys = NULL;
  if (!mact_step_config_get_strings (cfg, key, FALSE, &keys, error))
    return FALSE;
  *out = 0;
  for (guint i = 0; keys[i] != NULL; i++)
    {
      if (g_str_equal (keys[i], "imgs"))
        *out |= MACT_PIPELINE_KEY_IMGS;
      else if (g_str_equal (keys[i], "label"))
        *out |= MACT_PIPELINE_KEY_LABEL;
      else
        {
          mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, key,
                           "[%u] is '%s'; mact pipelines produce 'imgs' and 'label'", i,
                           keys[i]);
          return FALSE;
        }
    }
  return TRUE;
}

MactTransform *
mact_transform_collect_new (MactStepConfig *cfg, GError **error)
{
  g_autofree KeysStep *k = mact_transform_alloc (sizeof (KeysStep), cfg, MACT_STEP_COLLECT,
                                                 collect_apply, NULL);
  g_auto(GStrv) meta_keys = NULL;
  gboolean nested;
  k->select = TRUE;

  /* meta_keys / meta_name only fill the img_metas DataContainer mmaction2's detectors
   * read; accepted (as strings) and not produced. */
  JsonNode *name = mact_step_config_lookup (cfg, "meta_name");
  if (name != NULL && !JSON_NODE_HOLDS_NULL (name) &&
      (!JSON_NODE_HOLDS_VALUE (name) || json_node_get_value_type (name) != G_TYPE_STRING))
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_WRONG_TYPE, "meta_name",
                       "expects a string, got %s", mact_config_describe_value (name));
      return NULL;
    }
  if (!read_keys (cfg, "keys", &k->keys, error) ||
      !mact_step_config_get_strings (cfg, "meta_keys", TRUE, &meta_keys, error) ||
      !mact_step_config_get_bool (cfg, "nested", FALSE, &nested, error) ||
      !mact_step_config_check_keys (cfg, error))
    return NULL;
  if (nested)
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, "nested",
                       "true wraps every item in a list, which mact's tensors do not do; use "
                       "false");
      return NULL;
    }
  return (MactTransform *) g_steal_pointer (&k);
}

MactTransform *
mact_transform_to_tensor_new (MactStepConfig *cfg, GError **error)
{
  /* Everything is a tensor already: only the keys are checked. */
  g_autofree KeysStep *k = mact_transform_alloc (sizeof (KeysStep), cfg, MACT_STEP_COLLECT,
                                                 collect_apply, NULL);
  if (!read_keys (cfg, "keys", &k->keys, error) ||
      !mact_step_config_check_keys (cfg, error))
    return NULL;
  return (MactTransform *) g_steal_pointer (&k);
}
