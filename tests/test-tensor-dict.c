/* MactTensorDict: insertion order, replacement in place, removal, floats, update. */
#include "mact-test.h"

static void
test_order_and_replace (void **state)
{
  g_autoptr(MactTensorDict) d = mact_tensor_dict_new ();
  g_autoptr(MactTensor) a = mact_tensor_new_scalar (1.0f);
  g_autoptr(MactTensor) b = mact_tensor_new_scalar (2.0f);
  g_autoptr(MactTensor) c = mact_tensor_new_scalar (3.0f);
  mact_tensor_dict_insert (d, "loss_cls", a);
  mact_tensor_dict_insert (d, "top1_acc", b);
  mact_tensor_dict_insert (d, "loss_aux", c);
  assert_int_equal (mact_tensor_dict_get_size (d), 3);
  assert_string_equal (mact_tensor_dict_get_key (d, 2), "loss_aux");

  /* Replacing keeps the position, as a Python dict does. */
  mact_tensor_dict_insert (d, "loss_cls", c);
  assert_int_equal (mact_tensor_dict_get_size (d), 3);
  assert_string_equal (mact_tensor_dict_get_key (d, 0), "loss_cls");
  assert_ptr_equal (mact_tensor_dict_lookup (d, "loss_cls"), c);
  assert_ptr_equal (mact_tensor_dict_get_value (d, 0), c);

  g_auto(GStrv) keys = mact_tensor_dict_get_keys (d);
  assert_int_equal (g_strv_length (keys), 3);
  assert_string_equal (keys[1], "top1_acc");

  assert_true (mact_tensor_dict_remove (d, "top1_acc"));
  assert_false (mact_tensor_dict_remove (d, "top1_acc"));
  assert_false (mact_tensor_dict_contains (d, "top1_acc"));
  assert_string_equal (mact_tensor_dict_get_key (d, 1), "loss_aux");
  assert_ptr_equal (mact_tensor_dict_lookup (d, "loss_aux"), c);
  assert_null (mact_tensor_dict_lookup (d, "missing"));
}

static void
test_floats_and_update (void **state)
{
  g_autoptr(MactTensorDict) d = mact_tensor_dict_new ();
  mact_tensor_dict_insert_float (d, "lr", 0.01f);
  float v = 0;
  assert_true (mact_tensor_dict_get_float (d, "lr", &v));
  assert_float_equal (v, 0.01f, 0.0);
  assert_false (mact_tensor_dict_get_float (d, "nope", &v));
  const gint64 s[] = { 2 };
  g_autoptr(MactTensor) two = mact_tensor_new (1, s, NULL);
  mact_tensor_dict_insert (d, "vec", two);
  assert_false (mact_tensor_dict_get_float (d, "vec", &v));

  g_autoptr(MactTensorDict) other = mact_tensor_dict_new ();
  mact_tensor_dict_insert_float (other, "lr", 0.5f);
  mact_tensor_dict_insert_float (other, "loss", 1.5f);
  mact_tensor_dict_update (d, other);
  assert_int_equal (mact_tensor_dict_get_size (d), 3);
  assert_string_equal (mact_tensor_dict_get_key (d, 2), "loss");
  assert_true (mact_tensor_dict_get_float (d, "lr", &v));
  assert_float_equal (v, 0.5f, 0.0);

  /* Boxed copy is a reference. */
  MactTensorDict *copy = g_boxed_copy (MACT_TYPE_TENSOR_DICT, d);
  assert_ptr_equal (copy, d);
  g_boxed_free (MACT_TYPE_TENSOR_DICT, copy);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_order_and_replace),
    cmocka_unit_test (test_floats_and_update),
  };
  return cmocka_run_group_tests_name ("tensor-dict", tests, NULL, NULL);
}
