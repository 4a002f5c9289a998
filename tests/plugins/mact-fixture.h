/* mact-fixture.h: the one block type the loader's fixture plugins register.
 *
 * Fixtures are built like any out-of-tree plugin: they include only <mact/mact.h> and use
 * public API.  MACT_FIXTURE_DEFINE_BACKBONE (TypeName, type_name) defines a final
 * subclass of MactBackbone whose forward returns its inputs.  Every fixture passes its own
 * TypeName, because GType names are global to the process and several fixtures are
 * loaded into one test program; C names may repeat (hidden symbols, RTLD_LOCAL).
 */
#pragma once

#include <mact/mact.h>

#define MACT_FIXTURE_DEFINE_BACKBONE(TypeName, type_name)                                \
  typedef struct { MactBackbone parent_instance; } TypeName;                            \
  typedef struct { MactBackboneClass parent_class; } TypeName##Class;                   \
  GType type_name##_get_type (void);                                                    \
  G_DEFINE_FINAL_TYPE (TypeName, type_name, MACT_TYPE_BACKBONE)                          \
  static GPtrArray *                                                                    \
  type_name##_forward (MactModule *module, GPtrArray *inputs, GError **error)           \
  {                                                                                     \
    GPtrArray *outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref); \
    for (guint i = 0; i < inputs->len; i++)                                             \
      g_ptr_array_add (outputs, mact_tensor_ref (g_ptr_array_index (inputs, i)));      \
    return outputs;                                                                     \
  }                                                                                     \
  static void                                                                           \
  type_name##_class_init (TypeName##Class *klass)                                       \
  {                                                                                     \
    MACT_MODULE_CLASS (klass)->forward = type_name##_forward;                           \
  }                                                                                     \
  static void                                                                           \
  type_name##_init (TypeName *self)                                                     \
  {                                                                                     \
  }

/* Name of the GType qdata where the counting fixtures keep how often their init ran. */
#define MACT_FIXTURE_INIT_COUNT "mact-fixture-init-count"
