/* mact-generator.h: seedable random number generators. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <glib-object.h>
#include <mact/mact-version-macros.h>

G_BEGIN_DECLS

/**
 * MactGenerator:
 *
 * A seedable pseudo-random generator (xoshiro256**).  All randomness in mact (weight
 * initialisation, dropout, sampling) draws from a generator, so the same seed gives the
 * same result.  A generator is not thread-safe, except the default one, which is locked.
 *
 * Since: 0.1
 */
typedef struct _MactGenerator MactGenerator;

#define MACT_TYPE_GENERATOR (mact_generator_get_type ())
MACT_AVAILABLE_IN_0_1
GType          mact_generator_get_type     (void) G_GNUC_CONST;

MACT_AVAILABLE_IN_0_1
MactGenerator *mact_generator_new          (guint64 seed);
MACT_AVAILABLE_IN_0_1
MactGenerator *mact_generator_ref          (MactGenerator *self);
MACT_AVAILABLE_IN_0_1
void           mact_generator_unref        (MactGenerator *self);
MACT_AVAILABLE_IN_0_1
void           mact_generator_set_seed     (MactGenerator *self,
                                            guint64        seed);
MACT_AVAILABLE_IN_0_1
guint64        mact_generator_next_uint64  (MactGenerator *self);
MACT_AVAILABLE_IN_0_1
double         mact_generator_next_double  (MactGenerator *self);
MACT_AVAILABLE_IN_0_1
double         mact_generator_next_normal  (MactGenerator *self);
MACT_AVAILABLE_IN_0_1
MactGenerator *mact_generator_get_default  (void);
MACT_AVAILABLE_IN_0_1
void           mact_manual_seed            (guint64        seed);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MactGenerator, mact_generator_unref)

G_END_DECLS
