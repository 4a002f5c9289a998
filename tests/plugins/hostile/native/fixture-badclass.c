/* fixture-badclass.c: adds three types whose classes cannot work, ignores the refusals,
 * and registers one good type ("BadClassOk"); init succeeds.
 *   NoFinalizeNet  a backbone whose class_init clears GObjectClass.finalize: GObject
 *                  would call NULL when the first instance is freed.
 *   NoInitNet      a backbone that implements GInitable again, with a NULL init:
 *                  creating an instance (g_initable_new) would call NULL.
 *   NotABackbone   names MactBackbone as its parent but has a class structure the size of
 *                  a MactModuleClass: GType refuses to register it (with a warning), so
 *                  the plugin passes G_TYPE_INVALID.
 * Without the registry's checks the first two would register and crash the program at
 * the first use of the block, long after the plugin loaded.
 * Fixture plugin for tests/test-registry.c (loaded by file name) and
 * tests/test-plugin-check.c. */
#include <mact/mact.h>
#include "mact-fixture.h"

MACT_FIXTURE_DEFINE_BACKBONE (MactFixtureNativeBadClassOk, mact_fixture_native_bad_class_ok)

typedef struct { MactBackbone parent_instance; } MactFixtureNativeNoFinalize;
typedef struct { MactBackboneClass parent_class; } MactFixtureNativeNoFinalizeClass;
GType mact_fixture_native_no_finalize_get_type (void);
G_DEFINE_FINAL_TYPE (MactFixtureNativeNoFinalize, mact_fixture_native_no_finalize,
                     MACT_TYPE_BACKBONE)

static void
mact_fixture_native_no_finalize_class_init (MactFixtureNativeNoFinalizeClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = NULL;
}

static void
mact_fixture_native_no_finalize_init (MactFixtureNativeNoFinalize *self)
{
}

typedef struct { MactBackbone parent_instance; } MactFixtureNativeNoInit;
typedef struct { MactBackboneClass parent_class; } MactFixtureNativeNoInitClass;
GType mact_fixture_native_no_init_get_type (void);
static void no_init_initable_iface_init (GInitableIface *iface);
G_DEFINE_FINAL_TYPE_WITH_CODE (MactFixtureNativeNoInit, mact_fixture_native_no_init,
                               MACT_TYPE_BACKBONE,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      no_init_initable_iface_init))

static void
no_init_initable_iface_init (GInitableIface *iface)
{
  iface->init = NULL;
}

static void
mact_fixture_native_no_init_class_init (MactFixtureNativeNoInitClass *klass)
{
}

static void
mact_fixture_native_no_init_init (MactFixtureNativeNoInit *self)
{
}

/* Registered by hand: G_DEFINE_TYPE would fail its g_once_init_leave() with a critical
 * when the registration fails.  Nothing to cache: it fails every time. */
static GType
not_a_backbone_get_type (void)
{
  const GTypeInfo info = {
    .class_size = sizeof (MactModuleClass),   /* a MactBackboneClass is larger */
    .instance_size = sizeof (MactBackbone),
  };
  return g_type_register_static (MACT_TYPE_BACKBONE, "MactFixtureNativeNotABackbone", &info,
                                 0);
}

static gboolean
plugin_init (MactPlugin *plugin, GError **error)
{
  /* Each refused with MACT_PLUGIN_ERROR_INVALID_TYPE; the loader records them anyway. */
  mact_plugin_add_type (plugin, "NoFinalizeNet", mact_fixture_native_no_finalize_get_type (),
                        NULL);
  mact_plugin_add_type (plugin, "NoInitNet", mact_fixture_native_no_init_get_type (), NULL);
  mact_plugin_add_type (plugin, "NotABackbone", not_a_backbone_get_type (), NULL);
  return mact_plugin_add_type (plugin, "BadClassOk", mact_fixture_native_bad_class_ok_get_type (),
                               error);
}

MACT_PLUGIN_DEFINE (native, badclass, "registers types with bad classes next to a good one",
                    plugin_init, "0.1.0", "LGPL-2.1-or-later", "mact tests")
