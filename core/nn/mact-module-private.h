/* mact-module-private.h: helpers shared by the generic layers of core/nn/ (not installed).
 *
 * They are defined in mact-module.c.  The layers use them so that every layer checks its
 * inputs, reads its int-tuple properties and builds itself from C arguments the same way,
 * with the same error messages. */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

/* The most construct properties a layer's C constructor passes (ConvModule has the most). */
#define MACT_NN_MAX_PROPS 16

/* Properties collected by a C constructor (mact_conv_new() ...) and handed to
 * mact_module_new_with_properties() in one go. */
typedef struct {
  const char *names[MACT_NN_MAX_PROPS];
  GValue      values[MACT_NN_MAX_PROPS];
  guint       n;
} MactNNProps;

void        mact_nn_props_add_int     (MactNNProps *props, const char *name, gint value);
void        mact_nn_props_add_boolean (MactNNProps *props, const char *name, gboolean value);
void        mact_nn_props_add_double  (MactNNProps *props, const char *name, double value);
void        mact_nn_props_add_enum    (MactNNProps *props, const char *name, GType type,
                                       gint value);
/* Adds an "ax" tuple of @n values; does nothing when @values is NULL (the default). */
void        mact_nn_props_add_ints    (MactNNProps *props, const char *name, guint n,
                                       const gint *values);
/* Adds a GVariant property value; does nothing when @value is NULL (the default). */
void        mact_nn_props_add_variant (MactNNProps *props, const char *name,
                                       GVariant *value);
void        mact_nn_props_add_int64s  (MactNNProps *props, const char *name, guint n,
                                       const gint64 *values);
/* Children by position, in order (Sequential chains them without copying names). */
guint       mact_nn_get_n_children    (MactModule *self);
MactModule *mact_nn_get_child_at      (MactModule *self, guint index);

/* Builds @type from @props and clears them. */
MactModule *mact_nn_props_build       (MactNNProps *props, GType type, GError **error);

/* Reads an int-tuple property into @out[@n]: @tuple NULL gives @default_value for every
 * entry; otherwise as mact_int_tuple_get() (one value broadcasts). */
gboolean    mact_nn_tuple_or_default  (GVariant *tuple, guint n, gint default_value,
                                       gint *out, const char *block, const char *arg,
                                       GError **error);
/* Checks that every one of @n values is >= @min; INVALID_ARGUMENT naming block and arg. */
gboolean    mact_nn_check_min         (const gint *values, guint n, gint min,
                                       const char *block, const char *arg, GError **error);
/* "(1, 2, 3)": for messages. */
gchar      *mact_nn_format_ints       (const gint *values, guint n);

/* The single tensor of a one-input forward (transfer none), or NULL with an
 * INVALID_INPUT error naming @block. */
MactTensor *mact_nn_single_input      (GPtrArray *inputs, const char *block, GError **error);
/* Checks that @input is @ndim-D (or one of [@min_ndim, @max_ndim]) with @channels at
 * dim @channel_dim; INVALID_INPUT naming @block otherwise.  @channels < 0 skips that. */
gboolean    mact_nn_check_input       (MactTensor *input, gint min_ndim, gint max_ndim,
                                       gint channel_dim, gint64 channels,
                                       const char *channel_name, const char *block,
                                       GError **error);
/* A forward result holding @output (transfer full); NULL when @output is NULL. */
GPtrArray  *mact_nn_output            (MactTensor *output);

/* PyTorch's reset_parameters() of conv and linear layers: weight from
 * kaiming_uniform(a = sqrt(5)), so within +-1/sqrt(fan_in), and bias (nullable) from
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
gboolean    mact_nn_reset_weight_bias (MactTensor *weight, MactTensor *bias,
                                       MactGenerator *generator, GError **error);
/* Random initialisation that a strict weight load overwrites at once is wasted: a large
 * model spends most of its start drawing numbers and faulting in the pages they fill.
 * Between begin and end (they nest) the calling thread's mact_module_init_weights() and
 * mact_nn_reset_weight_bias() do nothing, so the core layers' weights stay the zeros
 * they were created with (untouched pages: mact_tensor_new_untouched_zeros()) and the
 * default generator is not advanced.  Only for a caller that loads every parameter and buffer
 * strictly right after building, and discards the model if that fails. */
void        mact_nn_skip_init_begin   (void);
void        mact_nn_skip_init_end     (void);

/* A new parameter or buffer of @shape filled with @value; INVALID_ARGUMENT naming @block
 * and @name when it cannot be made (sizes too large). */
MactTensor *mact_nn_new_tensor        (gint ndim, const gint64 *shape, float value,
                                       const char *block, const char *name,
                                       GError **error);

G_END_DECLS
