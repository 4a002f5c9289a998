/* mact-autograd.c: the reverse-mode engine.
 *
 * Each result of a differentiable op holds its grad_fn node; a node holds edges to the
 * nodes (or leaf tensors) its inputs came from, never the inputs themselves unless it saved
 * them for backward.  So a graph keeps alive only what backward needs, and inference in a
 * no-grad scope keeps nothing.  mact_tensor_backward() orders the nodes reachable from the
 * root topologically, runs them in reverse with grad mode off, accumulates gradients that
 * reach a node from several consumers, adds leaf gradients into .grad, and releases each
 * node's saved tensors once it has run (PyTorch's retain_graph=False).
 */
#include "mact-tensor-private.h"

#include <string.h>

static _Thread_local gboolean grad_disabled;   /* per thread, as PyTorch's grad mode */

/**
 * mact_grad_is_enabled:
 *
 * Returns: whether ops record autograd history on this thread (the default)
 *
 * Since: 0.1
 */
gboolean
mact_grad_is_enabled (void)
{
  return !grad_disabled;
}

/**
 * mact_grad_set_enabled:
 * @enabled: whether ops should record autograd history on this thread
 *
 * Returns: the previous setting, to restore later
 *
 * Since: 0.1
 */
gboolean
mact_grad_set_enabled (gboolean enabled)
{
  gboolean previous = !grad_disabled;
  grad_disabled = !enabled;
  return previous;
}

gboolean
mact_tensor_needs_grad (MactTensor *t)
{
  return t != NULL && (t->requires_grad || t->grad_fn != NULL);
}

gboolean
mact_autograd_wants (MactTensor **inputs, guint n_inputs)
{
  if (grad_disabled)
    return FALSE;
  for (guint i = 0; i < n_inputs; i++)
    if (mact_tensor_needs_grad (inputs[i]))
      return TRUE;
  return FALSE;
}

MactNode *
mact_node_new (const char *name, MactBackwardFunc backward, MactTensor **inputs,
               guint n_inputs)
{
  MactNode *node = g_new0 (MactNode, 1);
  node->ref_count = 1;
  node->name = name;
  node->backward = backward;
  node->n_inputs = n_inputs;
  node->edges = g_new0 (MactEdge, n_inputs);
  node->needs_grad = g_new0 (gboolean, n_inputs);
  node->saved = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  for (guint i = 0; i < n_inputs; i++)
    {
      MactTensor *in = inputs[i];
      if (in == NULL)
        continue;
      MactEdge *e = &node->edges[i];
      e->ndim = in->ndim;
      memcpy (e->shape, in->shape, sizeof e->shape);
      if (in->grad_fn != NULL)
        e->fn = mact_node_ref (in->grad_fn);
      else if (in->requires_grad)
        e->leaf = mact_tensor_ref (in);
      node->needs_grad[i] = e->fn != NULL || e->leaf != NULL;
    }
  return node;
}

MactNode *
mact_node_ref (MactNode *node)
{
  g_atomic_int_inc (&node->ref_count);
  return node;
}

static void
node_release_saved (MactNode *node)
{
  g_ptr_array_set_size (node->saved, 0);
  if (node->ctx_free && node->ctx)
    node->ctx_free (node->ctx);
  node->ctx = NULL;
  node->ctx_free = NULL;
  node->released = TRUE;
}

void
mact_node_unref (MactNode *node)
{
  /* Long chains (deep nets) would recurse once per node; unwind iteratively instead. */
  GPtrArray *stack = NULL;
  while (node != NULL)
    {
      if (g_atomic_int_dec_and_test (&node->ref_count))
        {
          for (guint i = 0; i < node->n_inputs; i++)
            {
              if (node->edges[i].leaf)
                mact_tensor_unref (node->edges[i].leaf);
              if (node->edges[i].fn)
                {
                  if (stack == NULL)
                    stack = g_ptr_array_new ();
                  g_ptr_array_add (stack, node->edges[i].fn);
                }
            }
          node_release_saved (node);
          g_ptr_array_unref (node->saved);
          g_free (node->edges);
          g_free (node->needs_grad);
          g_free (node);
        }
      node = (stack != NULL && stack->len > 0) ? g_ptr_array_steal_index_fast (stack, stack->len - 1)
                                               : NULL;
    }
  if (stack)
    g_ptr_array_unref (stack);
}

guint
mact_node_save (MactNode *node, MactTensor *t)
{
  g_ptr_array_add (node->saved, mact_tensor_ref (t));
  return node->saved->len - 1;
}

void
mact_node_set_ctx (MactNode *node, gpointer ctx, GDestroyNotify free_func)
{
  if (node->ctx_free && node->ctx)
    node->ctx_free (node->ctx);
  node->ctx = ctx;
  node->ctx_free = free_func;
}

void
mact_tensor_set_grad_fn (MactTensor *out, MactNode *node)
{
  if (out->grad_fn)
    mact_node_unref (out->grad_fn);
  out->grad_fn = node;
  out->requires_grad = FALSE;
  node->out_ndim = out->ndim;
  memcpy (node->out_shape, out->shape, sizeof node->out_shape);
}

/* ------------------------------------------------------------------ public API */

/**
 * mact_tensor_get_requires_grad:
 * @self: a tensor
 *
 * Returns: whether gradients flow to or through @self: a leaf marked with
 *   mact_tensor_set_requires_grad(), or a result computed from one with grad mode on
 *
 * Since: 0.1
 */
gboolean
mact_tensor_get_requires_grad (MactTensor *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return mact_tensor_needs_grad (self);
}

/**
 * mact_tensor_set_requires_grad:
 * @self: a leaf tensor
 * @requires_grad: whether backward should accumulate a gradient into @self
 * @error: return location for a #GError
 *
 * Marks a leaf (a tensor not computed by a recorded op, e.g. a parameter).  Changing a
 * non-leaf is a %MACT_TENSOR_ERROR_AUTOGRAD error, as in PyTorch.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_tensor_set_requires_grad (MactTensor *self, gboolean requires_grad, GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  if (self->grad_fn != NULL)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_AUTOGRAD,
                   "requires_grad can only be changed on leaf tensors; this one was "
                   "computed by %s", self->grad_fn->name);
      return FALSE;
    }
  self->requires_grad = requires_grad;
  return TRUE;
}

/**
 * mact_tensor_is_leaf:
 * @self: a tensor
 *
 * Returns: whether @self was not produced by a recorded op
 *
 * Since: 0.1
 */
gboolean
mact_tensor_is_leaf (MactTensor *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return self->grad_fn == NULL;
}

/**
 * mact_tensor_get_grad:
 * @self: a tensor
 *
 * Returns: (transfer none) (nullable): the gradient accumulated by backward into a leaf
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_get_grad (MactTensor *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->grad;
}

/**
 * mact_tensor_set_grad:
 * @self: a tensor
 * @grad: (nullable): the new gradient, or %NULL to clear it (as `zero_grad(set_to_none)`)
 *
 * Since: 0.1
 */
void
mact_tensor_set_grad (MactTensor *self, MactTensor *grad)
{
  g_return_if_fail (self != NULL);
  if (grad)
    mact_tensor_ref (grad);
  if (self->grad)
    mact_tensor_unref (self->grad);
  self->grad = grad;
}

/**
 * mact_tensor_get_grad_fn_name:
 * @self: a tensor
 *
 * Returns: (nullable): the name of the op that produced @self ("AddBackward", ...), or
 *   %NULL for a leaf
 *
 * Since: 0.1
 */
const char *
mact_tensor_get_grad_fn_name (MactTensor *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->grad_fn ? self->grad_fn->name : NULL;
}

void
mact_tensor_accumulate (MactTensor *dst, MactTensor *src)
{
  gint64 n = mact_tensor_get_numel (dst);
  float *d = mact_tensor_data (dst);
  if (mact_tensor_is_contiguous (src))
    {
      const float *s = mact_tensor_data (src);
      for (gint64 i = 0; i < n; i++)
        d[i] += s[i];
      return;
    }
  g_autofree float *tmp = g_new (float, MAX (n, 1));
  mact_tensor_copy_to_array (src, tmp);
  for (gint64 i = 0; i < n; i++)
    d[i] += tmp[i];
}

/* Adds @g into the slot, taking ownership of @g. */
static void
accumulate_into (MactTensor **slot, MactTensor *g)
{
  if (*slot == NULL)
    {
      /* Own the storage: the incoming gradient may be a view of something else. */
      if (mact_tensor_is_contiguous (g) && g->ref_count == 1 && g->grad_fn == NULL &&
          g->storage->ref_count == 1 && g->storage->owns_data)
        *slot = g;
      else
        {
          *slot = mact_tensor_new_with_shape (g->ndim, g->shape, FALSE, NULL);
          mact_tensor_copy_to_array (g, mact_tensor_data (*slot));
          mact_tensor_unref (g);
        }
      return;
    }
  if ((*slot)->ref_count > 1 || (*slot)->storage->ref_count > 1)
    {
      /* Someone else holds the current gradient: never change it under them. */
      MactTensor *copy = mact_tensor_clone (*slot);
      mact_tensor_unref (*slot);
      *slot = copy;
    }
  mact_tensor_accumulate (*slot, g);
  mact_tensor_unref (g);
}

static void
topo_sort (MactNode *root, GPtrArray *order)
{
  /* Iterative DFS post-order; 'visited' marks nodes pushed once. */
  g_autoptr(GHashTable) visited = g_hash_table_new (NULL, NULL);
  g_autoptr(GArray) stack = g_array_new (FALSE, FALSE, sizeof (gpointer) * 2);
  typedef struct { MactNode *node; gsize next; } Frame;
  Frame f = { root, 0 };
  g_hash_table_add (visited, root);
  g_array_append_val (stack, f);
  while (stack->len > 0)
    {
      Frame *top = &g_array_index (stack, Frame, stack->len - 1);
      if (top->next < top->node->n_inputs)
        {
          MactNode *child = top->node->edges[top->next++].fn;
          if (child != NULL && !g_hash_table_contains (visited, child))
            {
              g_hash_table_add (visited, child);
              Frame c = { child, 0 };
              g_array_append_val (stack, c);
            }
          continue;
        }
      g_ptr_array_add (order, top->node);
      g_array_set_size (stack, stack->len - 1);
    }
}

/* After @node ran (or was skipped): counts down its leaf edges and calls @ready for each
 * leaf no node still to run can reach. */
static gboolean
notify_ready (MactNode *node, GHashTable *leaf_edges, MactGradReadyFunc ready,
              gpointer user_data, GError **error)
{
  if (ready == NULL)
    return TRUE;
  for (guint k = 0; k < node->n_inputs; k++)
    {
      MactTensor *leaf = node->edges[k].leaf;
      if (leaf == NULL)
        continue;
      guint c = GPOINTER_TO_UINT (g_hash_table_lookup (leaf_edges, leaf));
      if (c > 1)
        {
          g_hash_table_insert (leaf_edges, leaf, GUINT_TO_POINTER (c - 1));
          continue;
        }
      g_hash_table_remove (leaf_edges, leaf);
      if (!ready (leaf, user_data, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
backward_impl (MactTensor *self, MactTensor *grad_output, MactGradReadyFunc ready,
               gpointer user_data, GError **error)
{

  if (!mact_tensor_needs_grad (self))
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_AUTOGRAD,
                   "backward: the tensor does not require grad and has no grad_fn");
      return FALSE;
    }
  if (grad_output == NULL && mact_tensor_get_numel (self) != 1)
    {
      g_autofree char *s = mact_tensor_shape_to_string (self);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_AUTOGRAD,
                   "backward: a gradient must be given for a non-scalar output of shape %s", s);
      return FALSE;
    }
  if (grad_output != NULL &&
      !mact_shape_equal (self->ndim, self->shape, grad_output->ndim, grad_output->shape))
    {
      g_autofree char *s = mact_tensor_shape_to_string (self);
      g_autofree char *g = mact_tensor_shape_to_string (grad_output);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_AUTOGRAD,
                   "backward: gradient of shape %s given for an output of shape %s", g, s);
      return FALSE;
    }

  MactTensor *seed = grad_output != NULL
    ? mact_tensor_clone (grad_output)
    : mact_tensor_new_full (self->ndim, self->shape, 1.0f, NULL);
  /* The seed must not record history even if grad_output did. */
  if (seed->grad_fn)
    {
      mact_node_unref (seed->grad_fn);
      seed->grad_fn = NULL;
    }

  if (self->grad_fn == NULL)
    {
      /* A leaf: backward of itself is the seed. */
      accumulate_into (&self->grad, seed);
      return ready == NULL || ready (self, user_data, error);
    }

  g_autoptr(GPtrArray) order = g_ptr_array_new ();
  topo_sort (self->grad_fn, order);
  for (guint i = 0; i < order->len; i++)
    {
      MactNode *n = g_ptr_array_index (order, i);
      if (n->released)
        {
          mact_tensor_unref (seed);
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_AUTOGRAD,
                       "backward through %s a second time: its saved tensors were already "
                       "released by an earlier backward", n->name);
          return FALSE;
        }
    }

  /* For the ready hook: how many edges from nodes still to run lead to each leaf.  A leaf
   * is final once that reaches 0, since only those nodes can add to its gradient. */
  g_autoptr(GHashTable) leaf_edges = NULL;
  if (ready != NULL)
    {
      leaf_edges = g_hash_table_new (NULL, NULL);
      for (guint i = 0; i < order->len; i++)
        {
          MactNode *n = g_ptr_array_index (order, i);
          for (guint k = 0; k < n->n_inputs; k++)
            if (n->edges[k].leaf != NULL)
              {
                guint c = GPOINTER_TO_UINT (g_hash_table_lookup (leaf_edges, n->edges[k].leaf));
                g_hash_table_insert (leaf_edges, n->edges[k].leaf, GUINT_TO_POINTER (c + 1));
              }
        }
    }

  g_autoptr(GHashTable) pending = g_hash_table_new_full (NULL, NULL, NULL,
                                                         (GDestroyNotify) mact_tensor_unref);
  g_hash_table_insert (pending, self->grad_fn, seed);

  gboolean prev = mact_grad_set_enabled (FALSE);
  gboolean ok = TRUE;
  /* Hold a reference to every node while running, since releasing the root chain
   * could otherwise free nodes still in the list. */
  for (guint i = 0; i < order->len; i++)
    mact_node_ref (g_ptr_array_index (order, i));

  for (gint i = (gint) order->len - 1; i >= 0 && ok; i--)
    {
      MactNode *node = g_ptr_array_index (order, i);
      MactTensor *grad = g_hash_table_lookup (pending, node);
      if (grad == NULL)
        {
          /* No gradient reached this node (e.g. only through non-grad inputs); its leaves
           * get nothing from it, which may make them final. */
          ok = notify_ready (node, leaf_edges, ready, user_data, error);
          continue;
        }
      g_hash_table_steal (pending, node);

      MactTensor *gc = mact_tensor_contiguous (grad);
      mact_tensor_unref (grad);
      g_autofree MactTensor **grads = g_new0 (MactTensor *, MAX (node->n_inputs, 1));
      ok = node->backward (node, gc, grads, error);
      mact_tensor_unref (gc);
      if (ok)
        for (guint k = 0; k < node->n_inputs; k++)
          {
            MactEdge *e = &node->edges[k];
            MactTensor *g = grads[k];
            grads[k] = NULL;
            if (g == NULL)
              continue;
            if (!node->needs_grad[k] ||
                !mact_shape_equal (g->ndim, g->shape, e->ndim, e->shape))
              {
                if (node->needs_grad[k])
                  {
                    g_autofree char *gs = mact_tensor_shape_to_string (g);
                    g_autofree char *es = mact_shape_format (e->ndim, e->shape);
                    g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_AUTOGRAD,
                                 "%s returned a gradient of shape %s for input %u of shape %s",
                                 node->name, gs, k, es);
                    ok = FALSE;
                  }
                mact_tensor_unref (g);
                continue;
              }
            if (e->fn != NULL)
              {
                MactTensor *slot = g_hash_table_lookup (pending, e->fn);
                g_hash_table_steal (pending, e->fn);
                accumulate_into (&slot, g);
                g_hash_table_insert (pending, e->fn, slot);
              }
            else if (e->leaf != NULL)
              accumulate_into (&e->leaf->grad, g);
            else
              mact_tensor_unref (g);
          }
      else
        for (guint k = 0; k < node->n_inputs; k++)
          if (grads[k])
            mact_tensor_unref (grads[k]);
      node_release_saved (node);
      if (ok)
        ok = notify_ready (node, leaf_edges, ready, user_data, error);
    }

  for (guint i = 0; i < order->len; i++)
    mact_node_unref (g_ptr_array_index (order, i));
  mact_grad_set_enabled (prev);
  return ok;
}

/**
 * mact_tensor_backward:
 * @self: the tensor to differentiate, usually a scalar loss
 * @grad_output: (nullable): the gradient of some scalar with respect to @self, of @self's
 *   shape; %NULL means 1, which is only allowed when @self has one element
 * @error: return location for a #GError
 *
 * Computes the gradient of @self with respect to every leaf it depends on that requires
 * grad, and adds it into that leaf's grad (see mact_tensor_get_grad()).  The graph's saved
 * tensors are released afterwards, so a second backward through the same graph is a
 * %MACT_TENSOR_ERROR_AUTOGRAD error, as is backward on a tensor that does not require grad
 * or a @grad_output of the wrong shape.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_tensor_backward (MactTensor *self, MactTensor *grad_output, GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return backward_impl (self, grad_output, NULL, NULL, error);
}

/**
 * mact_tensor_backward_full:
 * @self: the tensor to differentiate, usually a scalar loss
 * @grad_output: (nullable): as for mact_tensor_backward()
 * @ready: (nullable) (scope call) (closure user_data): called for each leaf once its
 *   gradient is final
 * @user_data: data for @ready
 * @error: return location for a #GError
 *
 * Like mact_tensor_backward(), and also tells, while it runs, when each leaf's gradient
 * is complete: @ready is called for a leaf (e.g. a parameter) as soon as every node of
 * the graph that feeds it has run, so nothing later in this backward changes its grad.  A
 * leaf may receive several contributions; it is reported once, after the last.  Leaves the
 * graph does not reach are not reported.  This is what lets data-parallel training start
 * reducing the gradients of the last layers while backward still runs through the first
 * ones (PyTorch DDP's per-parameter hooks).  When @ready returns %FALSE, backward stops
 * and returns %FALSE with the error @ready set; gradients are then partly accumulated.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_tensor_backward_full (MactTensor         *self,
                           MactTensor         *grad_output,
                           MactGradReadyFunc   ready,
                           gpointer            user_data,
                           GError            **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return backward_impl (self, grad_output, ready, user_data, error);
}
