/* mact-native-mobilenet-v2-tsm.c: mmaction2's MobileNetV2TSM
 * (backbones/mobilenet_v2_tsm.py), registered as "MobileNetV2TSM".
 *
 * mmaction2's own MobileNetV2 with temporal shift: in every InvertedResidual that has an
 * expansion conv (three ConvModules) and a residual connection, the expansion conv.0 is
 * wrapped in a TemporalShift, so its keys become `layerK.B.conv.0.net.conv.weight`.
 * mmaction2 inserts the wrappers in init_weights(); mact does it at build time, so the
 * state dict has the checkpoint keys from the start (see ResNetTSM). */
#include "mact-native-mobilenet-v2-tsm.h"
#include "mact-native-inverted-residual.h"
#include "mact-native-layers.h"
#include "mact-native-temporal-shift.h"

struct _MactNativeMobileNetV2TSM
{
  MactNativeMobileNetV2 parent_instance;

  gint      num_segments;
  gboolean  is_shift;
  gint      shift_div;
};

G_DEFINE_FINAL_TYPE (MactNativeMobileNetV2TSM, mact_native_mobilenet_v2_tsm,
                     MACT_NATIVE_TYPE_MOBILENET_V2)

enum {
  PROP_0,
  PROP_NUM_SEGMENTS,
  PROP_IS_SHIFT,
  PROP_SHIFT_DIV,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static void
mact_native_mobilenet_v2_tsm_set_property (GObject *object, guint prop_id,
                                           const GValue *value, GParamSpec *pspec)
{
  MactNativeMobileNetV2TSM *self = MACT_NATIVE_MOBILENET_V2_TSM (object);

  switch (prop_id)
    {
    case PROP_NUM_SEGMENTS:
      self->num_segments = g_value_get_int (value);
      break;
    case PROP_IS_SHIFT:
      self->is_shift = g_value_get_boolean (value);
      break;
    case PROP_SHIFT_DIV:
      self->shift_div = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_native_mobilenet_v2_tsm_get_property (GObject *object, guint prop_id, GValue *value,
                                           GParamSpec *pspec)
{
  MactNativeMobileNetV2TSM *self = MACT_NATIVE_MOBILENET_V2_TSM (object);

  switch (prop_id)
    {
    case PROP_NUM_SEGMENTS:
      g_value_set_int (value, self->num_segments);
      break;
    case PROP_IS_SHIFT:
      g_value_set_boolean (value, self->is_shift);
      break;
    case PROP_SHIFT_DIV:
      g_value_set_int (value, self->shift_div);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

typedef struct {
  gint    num_segments;
  gint    shift_div;
  GError *error;
} ShiftState;

/* mmaction2's make_temporal_shift: visits every module; wraps conv.0 of the residual
 * blocks with an expansion. */
static void
shift_visit (MactModule *module, gpointer user_data)
{
  ShiftState *state = user_data;
  if (state->error != NULL || !MACT_NATIVE_IS_INVERTED_RESIDUAL (module) ||
      !mact_native_inverted_residual_get_use_res_connect (MACT_NATIVE_INVERTED_RESIDUAL (module)))
    return;
  MactModule *conv = mact_module_get_child (module, "conv");
  if (mact_sequential_get_length (MACT_SEQUENTIAL (conv)) != 3)
    return;
  g_autoptr(MactModule) shift =
    mact_native_temporal_shift_new (mact_module_get_child (conv, "0"), state->num_segments,
                                    state->shift_div);
  mact_module_replace_child (conv, "0", shift, &state->error);
}

static gboolean
mact_native_mobilenet_v2_tsm_build (MactModule *module, GError **error)
{
  MactNativeMobileNetV2TSM *self = MACT_NATIVE_MOBILENET_V2_TSM (module);

  if (!MACT_MODULE_CLASS (mact_native_mobilenet_v2_tsm_parent_class)->build (module, error))
    return FALSE;
  if (self->num_segments < 1 || self->shift_div < 1)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "MobileNetV2TSM: num_segments and shift_div must be positive, got %d "
                   "and %d", self->num_segments, self->shift_div);
      return FALSE;
    }
  if (!self->is_shift)
    return TRUE;
  ShiftState state = { self->num_segments, self->shift_div, NULL };
  mact_native_foreach_module (module, shift_visit, &state);
  if (state.error != NULL)
    {
      g_propagate_prefixed_error (error, state.error, "MobileNetV2TSM: ");
      return FALSE;
    }
  /* Re-apply frozen_stages / norm_eval with the wrappers in place. */
  mact_module_train (module, mact_module_is_training (module));
  return TRUE;
}

static void
mact_native_mobilenet_v2_tsm_class_init (MactNativeMobileNetV2TSMClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->set_property = mact_native_mobilenet_v2_tsm_set_property;
  object_class->get_property = mact_native_mobilenet_v2_tsm_get_property;
  MACT_MODULE_CLASS (klass)->build = mact_native_mobilenet_v2_tsm_build;

  /**
   * MactNativeMobileNetV2TSM:num-segments:
   *
   * Segments (frames) per clip: the batch dimension is N * num_segments.
   */
  properties[PROP_NUM_SEGMENTS] =
    g_param_spec_int ("num-segments", NULL, NULL, G_MININT, G_MAXINT, 8, flags);
  /**
   * MactNativeMobileNetV2TSM:is-shift:
   *
   * Insert the temporal shift modules.
   */
  properties[PROP_IS_SHIFT] =
    g_param_spec_boolean ("is-shift", NULL, NULL, TRUE, flags);
  /**
   * MactNativeMobileNetV2TSM:shift-div:
   *
   * 1 / shift_div of the channels shift forward in time, as many backward.
   */
  properties[PROP_SHIFT_DIV] =
    g_param_spec_int ("shift-div", NULL, NULL, G_MININT, G_MAXINT, 8, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_native_mobilenet_v2_tsm_init (MactNativeMobileNetV2TSM *self)
{
}
