/* mact-ops-elementwise.c: broadcasting binary arithmetic, scalar arithmetic and the
 * pointwise activations, each with its backward. */
#include "mact-tensor-private.h"

#include <math.h>
#include <string.h>

typedef enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV } BinaryOp;

static const char *const binary_names[] = { "add", "sub", "mul", "div" };

typedef struct {
  BinaryOp     op;
  const float *a, *b;
  float       *out;
  gint         ndim;            /* of the output, >= 1 */
  gint64       shape[MACT_MAX_DIMS];
  gint64       sa[MACT_MAX_DIMS], sb[MACT_MAX_DIMS];   /* broadcast strides (0 = repeat) */
} BinaryJob;

static inline float
apply_binary (BinaryOp op, float x, float y)
{
  switch (op)
    {
    case OP_ADD: return x + y;
    case OP_SUB: return x - y;
    case OP_MUL: return x * y;
    default:     return x / y;
    }
}

/* Rows are all dimensions but the last; each row is a strided inner loop. */
static void
binary_rows (gint64 begin, gint64 end, gpointer data)
{
  const BinaryJob *job = data;
  gint last = job->ndim - 1;
  gint64 inner = job->shape[last], ia = job->sa[last], ib = job->sb[last];
  for (gint64 row = begin; row < end; row++)
    {
      gint64 rem = row, oa = 0, ob = 0;
      for (gint d = last - 1; d >= 0; d--)
        {
          gint64 i = rem % job->shape[d];
          rem /= job->shape[d];
          oa += i * job->sa[d];
          ob += i * job->sb[d];
        }
      const float *pa = job->a + oa, *pb = job->b + ob;
      float *po = job->out + row * inner;
      switch (job->op)
        {
        case OP_ADD:
          for (gint64 i = 0; i < inner; i++) po[i] = pa[i * ia] + pb[i * ib];
          break;
        case OP_SUB:
          for (gint64 i = 0; i < inner; i++) po[i] = pa[i * ia] - pb[i * ib];
          break;
        case OP_MUL:
          for (gint64 i = 0; i < inner; i++) po[i] = pa[i * ia] * pb[i * ib];
          break;
        case OP_DIV:
          for (gint64 i = 0; i < inner; i++) po[i] = pa[i * ia] / pb[i * ib];
          break;
        }
    }
}

/* Broadcast strides of @t aligned to the right of an @ndim-D output. */
static void
broadcast_strides (MactTensor *t, gint ndim, gint64 *strides)
{
  for (gint i = 0; i < ndim; i++)
    {
      gint j = i - (ndim - t->ndim);
      strides[i] = (j < 0 || t->shape[j] == 1) ? 0 : t->strides[j];
    }
}

static MactTensor *
binary_forward (BinaryOp op, MactTensor *a, MactTensor *b, GError **error)
{
  gint ndim;
  gint64 shape[MACT_MAX_DIMS];
  if (!mact_broadcast_shapes (a->ndim, a->shape, b->ndim, b->shape, &ndim, shape, error))
    {
      g_prefix_error (error, "%s: ", binary_names[op]);
      return NULL;
    }
  MactTensor *out = mact_tensor_new_with_shape (ndim, shape, FALSE, error);
  if (out == NULL)
    return NULL;
  gint64 n = mact_tensor_get_numel (out);
  if (n == 0)
    return out;

  float *po = mact_tensor_data (out);
  const float *pa = mact_tensor_data (a), *pb = mact_tensor_data (b);
  if (mact_shape_equal (a->ndim, a->shape, b->ndim, b->shape) &&
      mact_tensor_is_contiguous (a) && mact_tensor_is_contiguous (b))
    {
      for (gint64 i = 0; i < n; i++)
        po[i] = apply_binary (op, pa[i], pb[i]);
      return out;
    }

  BinaryJob job = { .op = op, .a = pa, .b = pb, .out = po, .ndim = MAX (ndim, 1) };
  if (ndim == 0)
    {
      job.shape[0] = 1;
      job.sa[0] = job.sb[0] = 0;
    }
  else
    {
      memcpy (job.shape, shape, sizeof shape);
      broadcast_strides (a, ndim, job.sa);
      broadcast_strides (b, ndim, job.sb);
    }
  gint64 rows = n / job.shape[job.ndim - 1];
  mact_parallel_for (rows, MAX (1, 16384 / job.shape[job.ndim - 1]), binary_rows, &job);
  return out;
}

static gboolean
binary_backward (MactNode *node, MactTensor *grad, MactTensor **grad_inputs, GError **error)
{
  BinaryOp op = GPOINTER_TO_INT (node->ctx);
  MactEdge *ea = &node->edges[0], *eb = &node->edges[1];

  if (node->needs_grad[0])
    {
      g_autoptr(MactTensor) full = NULL;
      if (op == OP_ADD || op == OP_SUB)
        full = mact_tensor_ref (grad);
      else if (op == OP_MUL)
        full = mact_mul (grad, mact_node_saved (node, 1), error);
      else
        full = mact_div (grad, mact_node_saved (node, 1), error);
      if (full == NULL ||
          !(grad_inputs[0] = mact_sum_to_shape (full, ea->ndim, ea->shape, error)))
        return FALSE;
    }
  if (node->needs_grad[1])
    {
      g_autoptr(MactTensor) full = NULL;
      if (op == OP_ADD)
        full = mact_tensor_ref (grad);
      else if (op == OP_SUB)
        full = mact_neg (grad);
      else if (op == OP_MUL)
        full = mact_mul (grad, mact_node_saved (node, 0), error);
      else
        {
          /* d(a/b)/db = -a / b^2 */
          g_autoptr(MactTensor) q = mact_div (mact_node_saved (node, 0),
                                              mact_node_saved (node, 1), error);
          g_autoptr(MactTensor) q2 = q ? mact_div (q, mact_node_saved (node, 1), error) : NULL;
          g_autoptr(MactTensor) gq = q2 ? mact_mul (grad, q2, error) : NULL;
          full = gq ? mact_neg (gq) : NULL;
        }
      if (full == NULL ||
          !(grad_inputs[1] = mact_sum_to_shape (full, eb->ndim, eb->shape, error)))
        return FALSE;
    }
  return TRUE;
}

static MactTensor *
binary (BinaryOp op, const char *node_name, MactTensor *a, MactTensor *b, GError **error)
{
  g_return_val_if_fail (a != NULL && b != NULL, NULL);
  MactTensor *out = binary_forward (op, a, b, error);
  MactTensor *inputs[2] = { a, b };
  if (out != NULL && mact_autograd_wants (inputs, 2))
    {
      MactNode *node = mact_node_new (node_name, binary_backward, inputs, 2);
      mact_node_set_ctx (node, GINT_TO_POINTER (op), NULL);
      if (op == OP_MUL || op == OP_DIV)
        {
          mact_node_save (node, a);
          mact_node_save (node, b);
        }
      mact_tensor_set_grad_fn (out, node);
    }
  return out;
}

/**
 * mact_add:
 * @a: a tensor
 * @b: a tensor broadcastable with @a
 * @error: return location for a #GError
 *
 * Elementwise @a + @b with numpy/PyTorch broadcasting.  Shapes that do not broadcast are a
 * %MACT_TENSOR_ERROR_SHAPE error.
 *
 * Returns: (transfer full) (nullable): the sum, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_add (MactTensor *a, MactTensor *b, GError **error)
{
  return binary (OP_ADD, "AddBackward", a, b, error);
}

/**
 * mact_sub:
 * @a: a tensor
 * @b: a tensor broadcastable with @a
 * @error: return location for a #GError
 *
 * Elementwise @a - @b with broadcasting.
 *
 * Returns: (transfer full) (nullable): the difference, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_sub (MactTensor *a, MactTensor *b, GError **error)
{
  return binary (OP_SUB, "SubBackward", a, b, error);
}

/**
 * mact_mul:
 * @a: a tensor
 * @b: a tensor broadcastable with @a
 * @error: return location for a #GError
 *
 * Elementwise @a * @b with broadcasting.
 *
 * Returns: (transfer full) (nullable): the product, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_mul (MactTensor *a, MactTensor *b, GError **error)
{
  return binary (OP_MUL, "MulBackward", a, b, error);
}

/**
 * mact_div:
 * @a: a tensor
 * @b: a tensor broadcastable with @a
 * @error: return location for a #GError
 *
 * Elementwise @a / @b with broadcasting (IEEE semantics for division by zero).
 *
 * Returns: (transfer full) (nullable): the quotient, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_div (MactTensor *a, MactTensor *b, GError **error)
{
  return binary (OP_DIV, "DivBackward", a, b, error);
}

/* ------------------------------------------------------------------ unary */

typedef enum {
  UN_ADD_SCALAR, UN_MUL_SCALAR, UN_RELU, UN_RELU6, UN_SIGMOID, UN_SILU, UN_HARDSWISH,
} UnaryOp;

typedef struct {
  UnaryOp      op;
  float        scalar;
  const float *in;
  const float *grad;   /* backward only */
  float       *out;
} UnaryJob;

static inline float
sigmoidf (float x)
{
  return 1.0f / (1.0f + expf (-x));
}

static void
unary_forward_range (gint64 begin, gint64 end, gpointer data)
{
  const UnaryJob *j = data;
  const float *x = j->in;
  float *y = j->out;
  switch (j->op)
    {
    case UN_ADD_SCALAR:
      for (gint64 i = begin; i < end; i++) y[i] = x[i] + j->scalar;
      break;
    case UN_MUL_SCALAR:
      for (gint64 i = begin; i < end; i++) y[i] = x[i] * j->scalar;
      break;
    case UN_RELU:
      for (gint64 i = begin; i < end; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
      break;
    case UN_RELU6:
      for (gint64 i = begin; i < end; i++) y[i] = fminf (fmaxf (x[i], 0.0f), 6.0f);
      break;
    case UN_SIGMOID:
      for (gint64 i = begin; i < end; i++) y[i] = sigmoidf (x[i]);
      break;
    case UN_SILU:
      for (gint64 i = begin; i < end; i++) y[i] = x[i] * sigmoidf (x[i]);
      break;
    case UN_HARDSWISH:
      for (gint64 i = begin; i < end; i++)
        y[i] = x[i] * fminf (fmaxf (x[i] + 3.0f, 0.0f), 6.0f) / 6.0f;
      break;
    }
}

/* Derivatives as PyTorch defines them at the kinks: relu'(0) = 0, relu6' = 0 at 0 and 6,
 * hardswish' = x/3 + 1/2 on [-3, 3] (closed at 3). */
static void
unary_backward_range (gint64 begin, gint64 end, gpointer data)
{
  const UnaryJob *j = data;
  const float *x = j->in, *g = j->grad;
  float *y = j->out;
  switch (j->op)
    {
    case UN_ADD_SCALAR:
      for (gint64 i = begin; i < end; i++) y[i] = g[i];
      break;
    case UN_MUL_SCALAR:
      for (gint64 i = begin; i < end; i++) y[i] = g[i] * j->scalar;
      break;
    case UN_RELU:
      for (gint64 i = begin; i < end; i++) y[i] = x[i] > 0.0f ? g[i] : 0.0f;
      break;
    case UN_RELU6:
      for (gint64 i = begin; i < end; i++) y[i] = (x[i] > 0.0f && x[i] < 6.0f) ? g[i] : 0.0f;
      break;
    case UN_SIGMOID:
      for (gint64 i = begin; i < end; i++)
        {
          float s = sigmoidf (x[i]);
          y[i] = g[i] * s * (1.0f - s);
        }
      break;
    case UN_SILU:
      for (gint64 i = begin; i < end; i++)
        {
          float s = sigmoidf (x[i]);
          y[i] = g[i] * s * (1.0f + x[i] * (1.0f - s));
        }
      break;
    case UN_HARDSWISH:
      for (gint64 i = begin; i < end; i++)
        y[i] = x[i] < -3.0f ? 0.0f : x[i] <= 3.0f ? g[i] * (x[i] / 3.0f + 0.5f) : g[i];
      break;
    }
}

typedef struct {
  UnaryOp op;
  float   scalar;
} UnaryCtx;

static gboolean
unary_backward (MactNode *node, MactTensor *grad, MactTensor **grad_inputs, GError **error)
{
  const UnaryCtx *ctx = node->ctx;
  MactTensor *x = node->saved->len > 0 ? mact_node_saved (node, 0) : grad;
  MactTensor *out = mact_tensor_new_with_shape (grad->ndim, grad->shape, FALSE, error);
  if (out == NULL)
    return FALSE;
  UnaryJob job = { ctx->op, ctx->scalar, mact_tensor_data (x), mact_tensor_data (grad),
                   mact_tensor_data (out) };
  mact_parallel_for (mact_tensor_get_numel (out), 32768, unary_backward_range, &job);
  grad_inputs[0] = out;
  return TRUE;
}

static MactTensor *
unary (UnaryOp op, float scalar, const char *node_name, MactTensor *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_autoptr(MactTensor) x = mact_tensor_contiguous (self);
  MactTensor *out = mact_tensor_new_with_shape (x->ndim, x->shape, FALSE, NULL);
  UnaryJob job = { op, scalar, mact_tensor_data (x), NULL, mact_tensor_data (out) };
  mact_parallel_for (mact_tensor_get_numel (out), 32768, unary_forward_range, &job);
  if (mact_autograd_wants (&self, 1))
    {
      MactNode *node = mact_node_new (node_name, unary_backward, &self, 1);
      UnaryCtx *ctx = g_new (UnaryCtx, 1);
      ctx->op = op;
      ctx->scalar = scalar;
      mact_node_set_ctx (node, ctx, g_free);
      /* Scalar ops need no input; the activations recompute from the input (never save
       * the output: a tensor holding its own grad_fn would be a reference cycle). */
      if (op != UN_ADD_SCALAR && op != UN_MUL_SCALAR)
        mact_node_save (node, x);
      mact_tensor_set_grad_fn (out, node);
    }
  return out;
}

/**
 * mact_add_scalar:
 * @self: a tensor
 * @value: the value to add
 *
 * Returns: (transfer full): @self + @value
 *
 * Since: 0.1
 */
MactTensor *
mact_add_scalar (MactTensor *self, float value)
{
  return unary (UN_ADD_SCALAR, value, "AddScalarBackward", self);
}

/**
 * mact_mul_scalar:
 * @self: a tensor
 * @value: the factor
 *
 * Returns: (transfer full): @self * @value
 *
 * Since: 0.1
 */
MactTensor *
mact_mul_scalar (MactTensor *self, float value)
{
  return unary (UN_MUL_SCALAR, value, "MulScalarBackward", self);
}

/**
 * mact_neg:
 * @self: a tensor
 *
 * Returns: (transfer full): -@self
 *
 * Since: 0.1
 */
MactTensor *
mact_neg (MactTensor *self)
{
  return unary (UN_MUL_SCALAR, -1.0f, "NegBackward", self);
}

/**
 * mact_relu:
 * @self: a tensor
 *
 * Returns: (transfer full): max(@self, 0)
 *
 * Since: 0.1
 */
MactTensor *
mact_relu (MactTensor *self)
{
  return unary (UN_RELU, 0.0f, "ReluBackward", self);
}

/**
 * mact_relu6:
 * @self: a tensor
 *
 * Returns: (transfer full): min(max(@self, 0), 6)
 *
 * Since: 0.1
 */
MactTensor *
mact_relu6 (MactTensor *self)
{
  return unary (UN_RELU6, 0.0f, "Relu6Backward", self);
}

/**
 * mact_sigmoid:
 * @self: a tensor
 *
 * Returns: (transfer full): 1 / (1 + exp(-@self))
 *
 * Since: 0.1
 */
MactTensor *
mact_sigmoid (MactTensor *self)
{
  return unary (UN_SIGMOID, 0.0f, "SigmoidBackward", self);
}

/**
 * mact_silu:
 * @self: a tensor
 *
 * SiLU, also called swish: x * sigmoid(x).
 *
 * Returns: (transfer full): the activation
 *
 * Since: 0.1
 */
MactTensor *
mact_silu (MactTensor *self)
{
  return unary (UN_SILU, 0.0f, "SiluBackward", self);
}

/**
 * mact_hardswish:
 * @self: a tensor
 *
 * Hardswish as in MobileNetV3: x * relu6(x + 3) / 6.
 *
 * Returns: (transfer full): the activation
 *
 * Since: 0.1
 */
MactTensor *
mact_hardswish (MactTensor *self)
{
  return unary (UN_HARDSWISH, 0.0f, "HardswishBackward", self);
}
