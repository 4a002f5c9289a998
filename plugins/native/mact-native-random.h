/* mact-native-random.h: the draws mmaction2's blendings make (torch.distributions.Beta,
 * torch.randperm, torch.randint), from a #MactGenerator.  Internal to the plugin. */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

double mact_native_sample_beta (MactGenerator *generator,
                                double         a,
                                double         b);
gint64 mact_native_randint     (MactGenerator *generator,
                                gint64         n);
void   mact_native_randperm    (MactGenerator *generator,
                                gint64         n,
                                gint64        *perm);

G_END_DECLS
