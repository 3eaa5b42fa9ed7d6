#!/usr/bin/env node
// Adds three functions to tfjs-node's native binding (binding/*.cc), before it is built:
//   addFunctionDef(bytes)  TFE_ContextAddFunctionDef: register a serialized FunctionDef
//   removeFunction(name)   TFE_ContextRemoveFunction
//   hasFunction(name)      TFE_ContextHasFunction
// A registered function runs through the binding's existing executeOp as one op, so mlpipe can
// run a whole training step as one TensorFlow graph (src/ml/train/graph/). Idempotent (a marker
// comment says it is done); fails loudly if tfjs-node's sources no longer look as expected.
//
// usage: node scripts/native/patch-binding.mjs node_modules/@tensorflow/tfjs-node
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const MARKER = '// mlpipe: function library';
const pkg = process.argv[2];
if (!pkg) {
  console.error('usage: patch-binding.mjs <path to @tensorflow/tfjs-node>');
  process.exit(2);
}

function edit(file, edits) {
  const path = join(pkg, 'binding', file);
  let text = readFileSync(path, 'utf8');
  if (text.includes(MARKER)) return false;
  for (const [anchor, insert, where] of edits) {
    const at = text.indexOf(anchor);
    if (at < 0) throw new Error(`${path}: anchor not found: ${JSON.stringify(anchor)}; tfjs-node's sources changed, update this script`);
    const pos = where === 'before' ? at : at + anchor.length;
    text = text.slice(0, pos) + insert + text.slice(pos);
  }
  writeFileSync(path, text);
  return true;
}

const header = edit('tfjs_backend.h', [
  [
    '  // Get number of tensor handles in the backend:',
    `  ${MARKER}: register, remove and look up graph functions in the eager
  // context; a registered function is then executed by name through ExecuteOp.
  napi_value AddFunctionDef(napi_env env, napi_value def_value);
  napi_value RemoveFunction(napi_env env, napi_value name_value);
  napi_value HasFunction(napi_env env, napi_value name_value);

`,
    'before',
  ],
]);

const backend = edit('tfjs_backend.cc', [
  [
    'napi_value TFJSBackend::ExecuteOp(',
    `${MARKER}
napi_value TFJSBackend::AddFunctionDef(napi_env env, napi_value def_value) {
  napi_status nstatus;
  bool is_typed_array = false;
  nstatus = napi_is_typedarray(env, def_value, &is_typed_array);
  ENSURE_NAPI_OK_RETVAL(env, nstatus, nullptr);
  if (!is_typed_array) {
    NAPI_THROW_ERROR(env, "addFunctionDef() expects a Uint8Array");
    return nullptr;
  }
  napi_typedarray_type array_type;
  size_t length = 0;
  void *data = nullptr;
  nstatus = napi_get_typedarray_info(env, def_value, &array_type, &length,
                                     &data, nullptr, nullptr);
  ENSURE_NAPI_OK_RETVAL(env, nstatus, nullptr);
  if (array_type != napi_uint8_array) {
    NAPI_THROW_ERROR(env, "addFunctionDef() expects a Uint8Array");
    return nullptr;
  }
  TF_AutoStatus tf_status;
  TFE_ContextAddFunctionDef(tfe_context_, static_cast<const char *>(data),
                            length, tf_status.status);
  ENSURE_TF_OK_RETVAL(env, tf_status, nullptr);
  napi_value undefined;
  nstatus = napi_get_undefined(env, &undefined);
  ENSURE_NAPI_OK_RETVAL(env, nstatus, nullptr);
  return undefined;
}

napi_value TFJSBackend::RemoveFunction(napi_env env, napi_value name_value) {
  std::string name;
  napi_status nstatus = GetStringParam(env, name_value, name);
  ENSURE_NAPI_OK_RETVAL(env, nstatus, nullptr);
  TF_AutoStatus tf_status;
  TFE_ContextRemoveFunction(tfe_context_, name.c_str(), tf_status.status);
  ENSURE_TF_OK_RETVAL(env, tf_status, nullptr);
  napi_value undefined;
  nstatus = napi_get_undefined(env, &undefined);
  ENSURE_NAPI_OK_RETVAL(env, nstatus, nullptr);
  return undefined;
}

napi_value TFJSBackend::HasFunction(napi_env env, napi_value name_value) {
  std::string name;
  napi_status nstatus = GetStringParam(env, name_value, name);
  ENSURE_NAPI_OK_RETVAL(env, nstatus, nullptr);
  napi_value result;
  nstatus = napi_get_boolean(
      env, TFE_ContextHasFunction(tfe_context_, name.c_str()) != 0, &result);
  ENSURE_NAPI_OK_RETVAL(env, nstatus, nullptr);
  return result;
}

`,
    'before',
  ],
]);

const binding = edit('tfjs_binding.cc', [
  [
    'static napi_value IsUsingGPUDevice(napi_env env, napi_callback_info info) {',
    `${MARKER}
static napi_value FunctionCall(napi_env env, napi_callback_info info,
                               int which) {
  size_t argc = 1;
  napi_value args[1];
  napi_value js_this;
  napi_status nstatus = napi_get_cb_info(env, info, &argc, args, &js_this, nullptr);
  ENSURE_NAPI_OK_RETVAL(env, nstatus, nullptr);
  if (argc < 1) {
    NAPI_THROW_ERROR(env, "expected 1 argument");
    return nullptr;
  }
  TFJSBackend *const backend = GetTFJSBackend(env);
  if (!backend) return nullptr;
  if (which == 0) return backend->AddFunctionDef(env, args[0]);
  ENSURE_VALUE_IS_STRING_RETVAL(env, args[0], nullptr);
  if (which == 1) return backend->RemoveFunction(env, args[0]);
  return backend->HasFunction(env, args[0]);
}
static napi_value AddFunctionDef(napi_env env, napi_callback_info info) {
  return FunctionCall(env, info, 0);
}
static napi_value RemoveFunction(napi_env env, napi_callback_info info) {
  return FunctionCall(env, info, 1);
}
static napi_value HasFunction(napi_env env, napi_callback_info info) {
  return FunctionCall(env, info, 2);
}

`,
    'before',
  ],
  [
    '      {"getNumOfTensors", nullptr, GetNumOfTensors, nullptr, nullptr,\n       nullptr, napi_default, nullptr},\n',
    `      {"addFunctionDef", nullptr, AddFunctionDef, nullptr, nullptr, nullptr,
       napi_default, nullptr},
      {"removeFunction", nullptr, RemoveFunction, nullptr, nullptr, nullptr,
       napi_default, nullptr},
      {"hasFunction", nullptr, HasFunction, nullptr, nullptr, nullptr,
       napi_default, nullptr},
`,
    'after',
  ],
]);

console.log(header || backend || binding ? 'patched tfjs-node binding: addFunctionDef, removeFunction, hasFunction' : 'tfjs-node binding already patched');
