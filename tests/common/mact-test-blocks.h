/* mact-test-blocks.h: small block types the recognizer and head tests build models from,
 * registered as static plugins in a private registry, so those tests depend on core only
 * (no plugin files, no default registry).  Every block is built with the public API only,
 * as a plugin author would write it.
 *
 * native (type names without a prefix):
 *   TestBackbone2D      in_channels (3), out_channels (8): conv1 3x3 pad 1 -> relu,
 *                       [N, C, H, W] -> [N, out, H, W]
 *   TestBackbone3D      the same in 3-D: [N, C, T, H, W] -> [N, out, T, H, W]
 *   TestTupleBackbone3D two outputs like SlowFast: slow (conv 3x3x3 -> relu,
 *                       [N, 8, T, H, W]) and fast (conv stride (1, 2, 2) -> relu,
 *                       [N, 4, T, H/2, W/2]); a head over both needs in_channels 12
 *   TestHead2D          fc_cls (Linear): adaptive avg pool 2d, mean over the num_segs
 *                       segments (AvgConsensus), fc -> [N, K]; num_segs 0 counts as 1
 *   TestHead3D          fc_cls: adaptive avg pool 3d of every input, concatenated along
 *                       channels, fc -> [N*V, K]
 *   TestFlatHead        fc_cls on the input flattened from dim 1 (ignores num_segs)
 *   TestNeck            in_channels (8), num_classes (0 = no aux head), loss_weight (0.5):
 *                       mean over dim 2 (time) keeping it, [N, C, T, ...] -> [N, C, 1, ...];
 *                       with a target and num_classes > 0 adds
 *                       loss_aux = loss_weight * CE(aux_fc(mean over dims >= 2 of the last
 *                       input)), target)
 *   TestCELoss          cross entropy (hard or soft labels); a "mask" kwarg scales it by
 *                       mean(mask)
 *   TestBCELoss         binary cross entropy with logits
 *   TestMixup           blends each sample with the next one (cyclically) by lam = 0.75:
 *                       x' = 0.75 x[i] + 0.25 x[(i + 1) % B], labels alike
 * cls:
 *   cls.TestNet         in_channels (3), out_channels (8): conv -> relu, returns a tuple
 *                       of one tensor
 * tv (torchvision-style; the recognizer replaces `classifier` and `fc` by identities):
 *   tv.testnet          in_channels (3), num_classes (5): features (Sequential: conv 3x3
 *                       to 8 channels, relu) and classifier (Linear 8 -> num_classes);
 *                       forward = classifier(pool(features(x))), forward_features =
 *                       features(x) ([N, 8, H, W])
 *   tv.testresnet       in_channels (3), num_classes (5): conv1 (3x3 to 8 channels) and fc
 *                       (Linear 8 -> num_classes); forward = fc(pool(relu(conv1(x)))), so
 *                       with fc an identity it returns [N, 8]
 *   tv.testmaps         in_channels (3): conv1 -> relu -> adaptive avg pool to 2x2,
 *                       [N, 8, 2, 2] (4-D maps Recognizer2D must pool)
 *
 * Every backbone counts its init_weights calls (see mact_test_blocks_init_count()). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

/* (transfer full) A new private registry (no search path, no environment) holding the
 * three static test plugins, one per family (native, cls, tv). */
MactRegistry *mact_test_blocks_registry   (void);
/* How many times init_weights ran on backbones of @type_name (the registry name, e.g.
 * "cls.TestNet") since the process started. */
guint         mact_test_blocks_init_count (const char *type_name);

G_END_DECLS
