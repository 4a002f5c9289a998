/* mact-demo: an end-to-end run of the tensor engine until the recognizer and the `mact`
 * program arrive.  It builds a small convolutional network from the public ops, trains it
 * for a few SGD steps on a seeded synthetic task (which texture is hidden in the noise:
 * horizontal stripes, vertical stripes, a checkerboard, or none),
 * and prints shapes, loss and accuracy, and forward/backward timings. */
#include <mact/mact.h>
#include <stdio.h>
#include <stdlib.h>

#define N_CLASSES 4

typedef struct {
  MactTensor *conv1_w, *conv1_b, *bn1_w, *bn1_b, *bn1_mean, *bn1_var;
  MactTensor *conv2_w, *conv2_b, *bn2_w, *bn2_b, *bn2_mean, *bn2_var;
  MactTensor *fc_w, *fc_b;
} Net;

static MactTensor *
param (gint ndim, const gint64 *shape, MactGenerator *gen, double bound, double fill)
{
  MactTensor *t = mact_tensor_new_empty (ndim, shape, NULL);
  if (bound > 0)
    mact_tensor_uniform_ (t, gen, -bound, bound);
  else
    mact_tensor_fill (t, (float) fill);
  return t;
}

static void
net_init (Net *n, MactGenerator *gen)
{
  const gint64 c1[] = { 16, 3, 3, 3 }, c2[] = { 32, 16, 3, 3 }, fc[] = { N_CLASSES, 32 };
  const gint64 v16[] = { 16 }, v32[] = { 32 }, vk[] = { N_CLASSES };
  n->conv1_w = param (4, c1, gen, 1.0 / 5.2, 0);
  n->conv1_b = param (1, v16, gen, 0, 0.0);
  n->bn1_w = param (1, v16, gen, 0, 1.0);
  n->bn1_b = param (1, v16, gen, 0, 0.0);
  n->bn1_mean = param (1, v16, gen, 0, 0.0);
  n->bn1_var = param (1, v16, gen, 0, 1.0);
  n->conv2_w = param (4, c2, gen, 1.0 / 12.0, 0);
  n->conv2_b = param (1, v32, gen, 0, 0.0);
  n->bn2_w = param (1, v32, gen, 0, 1.0);
  n->bn2_b = param (1, v32, gen, 0, 0.0);
  n->bn2_mean = param (1, v32, gen, 0, 0.0);
  n->bn2_var = param (1, v32, gen, 0, 1.0);
  n->fc_w = param (2, fc, gen, 1.0 / 5.7, 0);
  n->fc_b = param (1, vk, gen, 0, 0.0);
  MactTensor *trainable[] = { n->conv1_w, n->conv1_b, n->bn1_w, n->bn1_b, n->conv2_w,
                              n->conv2_b, n->bn2_w, n->bn2_b, n->fc_w, n->fc_b };
  for (guint i = 0; i < G_N_ELEMENTS (trainable); i++)
    mact_tensor_set_requires_grad (trainable[i], TRUE, NULL);
}

static void
net_clear (Net *n)
{
  MactTensor **all = (MactTensor **) n;
  for (guint i = 0; i < sizeof (Net) / sizeof (MactTensor *); i++)
    g_clear_pointer (&all[i], mact_tensor_unref);
}

static MactTensor *
net_forward (Net *n, MactTensor *x, gboolean training, GError **error)
{
  const gint one[] = { 1, 1 }, two[] = { 2, 2 };
  g_autoptr(MactTensor) c1 = mact_conv2d (x, n->conv1_w, n->conv1_b, one, one, one, 1, error);
  if (c1 == NULL) return NULL;
  g_autoptr(MactTensor) b1 = mact_batch_norm (c1, n->bn1_mean, n->bn1_var, n->bn1_w, n->bn1_b,
                                              training, 0.1, 1e-5, error);
  if (b1 == NULL) return NULL;
  g_autoptr(MactTensor) r1 = mact_relu (b1);
  g_autoptr(MactTensor) p1 = mact_max_pool2d (r1, two, two, NULL, NULL, FALSE, error);
  if (p1 == NULL) return NULL;
  g_autoptr(MactTensor) c2 = mact_conv2d (p1, n->conv2_w, n->conv2_b, one, one, one, 1, error);
  if (c2 == NULL) return NULL;
  g_autoptr(MactTensor) b2 = mact_batch_norm (c2, n->bn2_mean, n->bn2_var, n->bn2_w, n->bn2_b,
                                              training, 0.1, 1e-5, error);
  if (b2 == NULL) return NULL;
  g_autoptr(MactTensor) r2 = mact_relu (b2);
  const gint64 pooled[] = { 1, 1 };
  g_autoptr(MactTensor) gap = mact_adaptive_avg_pool2d (r2, pooled, error);
  if (gap == NULL) return NULL;
  g_autoptr(MactTensor) flat = mact_tensor_flatten (gap, 1, -1, error);
  if (flat == NULL) return NULL;
  return mact_linear (flat, n->fc_w, n->fc_b, error);
}

/* Noise images, each hiding one texture class: horizontal stripes, vertical stripes, a
 * checkerboard, or nothing.  Textures survive global average pooling; positions would not. */
static void
make_batch (MactGenerator *gen, gint64 batch, gint64 size, MactTensor **images,
            MactTensor **labels)
{
  const gint64 shape[] = { batch, 3, size, size }, lshape[] = { batch };
  *images = mact_tensor_new_empty (4, shape, NULL);
  *labels = mact_tensor_new_empty (1, lshape, NULL);
  mact_tensor_normal_ (*images, gen, 0.0, 1.0);
  float *img = mact_tensor_get_data (*images), *lab = mact_tensor_get_data (*labels);
  for (gint64 b = 0; b < batch; b++)
    {
      gint64 k = (gint64) (mact_generator_next_uint64 (gen) % N_CLASSES);
      lab[b] = (float) k;
      for (gint64 c = 0; c < 3; c++)
        for (gint64 y = 0; y < size; y++)
          for (gint64 x = 0; x < size; x++)
            {
              gboolean on = k == 0 ? (y / 2) % 2 : k == 1 ? (x / 2) % 2
                          : k == 2 ? ((x / 2) + (y / 2)) % 2 : FALSE;
              img[((b * 3 + c) * size + y) * size + x] += on ? 1.0f : 0.0f;
            }
    }
}

static double
accuracy (MactTensor *logits, MactTensor *labels)
{
  gint64 batch = mact_tensor_get_size (logits, 0);
  const float *l = mact_tensor_get_data (logits), *y = mact_tensor_get_data (labels);
  gint64 correct = 0;
  for (gint64 b = 0; b < batch; b++)
    {
      gint best = 0;
      for (gint k = 1; k < N_CLASSES; k++)
        if (l[b * N_CLASSES + k] > l[b * N_CLASSES + best])
          best = k;
      correct += best == (gint) y[b];
    }
  return (double) correct / (double) batch;
}

static void
sgd_step (Net *n, float lr)
{
  MactTensor *trainable[] = { n->conv1_w, n->conv1_b, n->bn1_w, n->bn1_b, n->conv2_w,
                              n->conv2_b, n->bn2_w, n->bn2_b, n->fc_w, n->fc_b };
  for (guint i = 0; i < G_N_ELEMENTS (trainable); i++)
    {
      MactTensor *g = mact_tensor_get_grad (trainable[i]);
      float *w = mact_tensor_get_data (trainable[i]);
      const float *gd = mact_tensor_get_data (g);
      for (gint64 k = 0; k < mact_tensor_get_numel (g); k++)
        w[k] -= lr * gd[k];
      mact_tensor_set_grad (trainable[i], NULL);
    }
}

int
main (int argc, char **argv)
{
  gint steps = argc > 1 ? atoi (argv[1]) : 30;
  const gint64 batch = 16, size = 32;
  g_autoptr(GError) error = NULL;
  g_autoptr(MactGenerator) gen = mact_generator_new (2024);
  Net net = { 0 };

  printf ("mact %s engine demo: %d threads\n", MACT_VERSION_S, mact_get_num_threads ());
  net_init (&net, gen);
  printf ("network: conv3x3(3->16) bn relu maxpool2 conv3x3(16->32) bn relu gap linear(32->%d)\n",
          N_CLASSES);

  double fwd_total = 0, bwd_total = 0;
  for (gint step = 1; step <= steps; step++)
    {
      g_autoptr(MactTensor) images = NULL, labels = NULL;
      make_batch (gen, batch, size, &images, &labels);
      gint64 t0 = g_get_monotonic_time ();
      g_autoptr(MactTensor) logits = net_forward (&net, images, TRUE, &error);
      if (logits == NULL)
        break;
      g_autoptr(MactTensor) loss = mact_cross_entropy (logits, labels, NULL,
                                                       MACT_REDUCTION_MEAN, &error);
      if (loss == NULL)
        break;
      gint64 t1 = g_get_monotonic_time ();
      if (!mact_tensor_backward (loss, NULL, &error))
        break;
      gint64 t2 = g_get_monotonic_time ();
      sgd_step (&net, 0.1f);
      fwd_total += (double) (t1 - t0);
      bwd_total += (double) (t2 - t1);
      if (step == 1)
        {
          g_autofree char *in = mact_tensor_shape_to_string (images);
          g_autofree char *out = mact_tensor_shape_to_string (logits);
          printf ("input %s -> logits %s\n", in, out);
        }
      if (step == 1 || step % 5 == 0)
        printf ("step %3d  loss %.4f  batch accuracy %.2f\n", step, mact_tensor_item (loss),
                accuracy (logits, labels));
    }
  if (error == NULL)
    {
      g_autoptr(MactTensor) images = NULL, labels = NULL;
      make_batch (gen, 256, size, &images, &labels);
      g_autoptr(MactTensor) logits = NULL;
      gint64 t0 = g_get_monotonic_time ();
      MACT_NO_GRAD_BEGIN
      logits = net_forward (&net, images, FALSE, &error);
      MACT_NO_GRAD_END
      gint64 t1 = g_get_monotonic_time ();
      if (logits != NULL)
        {
          printf ("held-out accuracy (256 images, eval mode, no grad): %.3f\n",
                  accuracy (logits, labels));
          printf ("mean time per step: forward %.2f ms, backward %.2f ms; "
                  "inference of 256 images %.2f ms\n",
                  fwd_total / 1000.0 / steps, bwd_total / 1000.0 / steps,
                  (double) (t1 - t0) / 1000.0);
        }
    }
  net_clear (&net);
  if (error != NULL)
    {
      fprintf (stderr, "mact-demo: %s\n", error->message);
      return 1;
    }
  return 0;
}
