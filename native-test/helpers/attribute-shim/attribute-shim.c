/*
 * A PKCS#11 module that is SoftHSM except for C_GetAttributeValue's answers about one attribute: the answers other
 * vendors' modules give, which SoftHSM never does; and, when asked, C_GetTokenInfo's serial or label. Every other
 * function is SoftHSM's own (its function list, copied).
 *
 *   RAA_SHIM_TARGET     the module forwarded to (SoftHSM's path)
 *   RAA_SHIM_ATTRIBUTE  the attribute type whose answers change (decimal or 0x hex; CKA_VALUE when unset)
 *   RAA_SHIM_ANSWER     sensitive       CKR_ATTRIBUTE_SENSITIVE, its ulValueLen CK_UNAVAILABLE_INFORMATION
 *                       type-invalid    CKR_ATTRIBUTE_TYPE_INVALID, the same
 *                       ok-unavailable  CKR_OK, its ulValueLen CK_UNAVAILABLE_INFORMATION
 *                       device-error    CKR_DEVICE_ERROR for any call that asks for it
 *                       too-small       CKR_BUFFER_TOO_SMALL whatever the buffer's size
 *                       ok-length       CKR_OK with the length needed, the buffer untouched, when it is too small
 *                       huge-length     CKR_OK with a length of 2^62 bytes when asked its length (pValue NULL)
 *                       stray-pointer   when asked its length: a length of 0, and a pointer (to static memory)
 *                                       written into pValue, which a caller must neither read nor free
 *                       grows           CKR_OK with 4096 more than the length written when asked its value (the
 *                                       object grew between the two calls, and the module claims more than its room)
 *                       (unset: SoftHSM's answers)
 *   RAA_SHIM_LOG        a file to which the buffer size of each call that asks for it is appended
 *   RAA_SHIM_NO_LOGIN   set when C_GetFunctionList is called: the list it gives has no C_Login (NULL)
 *   RAA_SHIM_TOKEN_SERIAL  C_GetTokenInfo's serialNumber for every token, blank-padded (16 bytes at most): two tokens
 *                       with one serial, as two modules' or a careless vendor's tokens may have
 *   RAA_SHIM_TOKEN_LABEL   C_GetTokenInfo's label for every token, as hex (64 digits at most; fewer: the rest blanks):
 *                       bytes no softhsm2-util label holds (a NUL, padding of NULs)
 *
 * Round 43, L2:
 *   RAA_SHIM_TOKEN_INFO_ERROR  a slot id (decimal) whose C_GetTokenInfo answers CKR_DEVICE_ERROR (a card the reader
 *                       cannot read at the moment); the other slots' are SoftHSM's
 *
 * Read at each call (RAA_SHIM_NO_LOGIN: at C_GetFunctionList): a test changes the answer between signers in one process.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CK_PTR *
#define CK_DECLARE_FUNCTION(returnType, name) returnType name
#define CK_DECLARE_FUNCTION_POINTER(returnType, name) returnType(*name)
#define CK_CALLBACK_FUNCTION(returnType, name) returnType(*name)
#ifndef NULL_PTR
#define NULL_PTR 0
#endif
#include "pkcs11.h"

static CK_FUNCTION_LIST shim;
static CK_FUNCTION_LIST no_login;
static CK_FUNCTION_LIST_PTR real;

static CK_ATTRIBUTE_TYPE target_type(void) {
  const char *given = getenv("RAA_SHIM_ATTRIBUTE");
  return given ? (CK_ATTRIBUTE_TYPE)strtoul(given, NULL, 0) : CKA_VALUE;
}

static int answer_is(const char *name) {
  const char *answer = getenv("RAA_SHIM_ANSWER");
  return answer != NULL && strcmp(answer, name) == 0;
}

static void log_size(CK_ATTRIBUTE_PTR attribute) {
  const char *path = getenv("RAA_SHIM_LOG");
  if (path == NULL) return;
  FILE *log = fopen(path, "a");
  if (log == NULL) return;
  fprintf(log, "%lu\n", attribute->pValue == NULL ? 0UL : (unsigned long)attribute->ulValueLen);
  fclose(log);
}

static CK_RV shim_GetAttributeValue(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_PTR template, CK_ULONG count) {
  CK_ATTRIBUTE_PTR target = NULL;
  for (CK_ULONG i = 0; i < count; i++) {
    if (template[i].type == target_type()) target = &template[i];
  }
  if (target == NULL || getenv("RAA_SHIM_ANSWER") == NULL) return real->C_GetAttributeValue(session, object, template, count);
  log_size(target);
  if (answer_is("device-error")) return CKR_DEVICE_ERROR;
  if (answer_is("huge-length") || answer_is("stray-pointer") || answer_is("grows")) {
    int asked_length = target->pValue == NULL;
    CK_RV rv = real->C_GetAttributeValue(session, object, template, count);
    if (asked_length && answer_is("huge-length")) target->ulValueLen = (CK_ULONG)1 << 62;
    if (asked_length && answer_is("stray-pointer")) {
      target->pValue = &shim;
      target->ulValueLen = 0;
    }
    if (!asked_length && answer_is("grows") && rv == CKR_OK) target->ulValueLen += 4096;
    return rv;
  }
  if (answer_is("ok-length") && target->pValue == NULL) return real->C_GetAttributeValue(session, object, template, count);
  if (answer_is("ok-length")) {
    CK_ATTRIBUTE asked = {target->type, NULL, 0};
    CK_RV rv = real->C_GetAttributeValue(session, object, &asked, 1);
    if (rv == CKR_OK && asked.ulValueLen != CK_UNAVAILABLE_INFORMATION && asked.ulValueLen > target->ulValueLen) {
      void *buffer = target->pValue;
      target->pValue = NULL; /* the others are answered as SoftHSM does; this one is left untouched */
      rv = real->C_GetAttributeValue(session, object, template, count);
      target->pValue = buffer;
      target->ulValueLen = asked.ulValueLen;
      return rv;
    }
    return real->C_GetAttributeValue(session, object, template, count);
  }
  if (answer_is("too-small") && target->pValue == NULL) return real->C_GetAttributeValue(session, object, template, count);
  CK_RV rv = real->C_GetAttributeValue(session, object, template, count);
  target->ulValueLen = CK_UNAVAILABLE_INFORMATION;
  if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL && rv != CKR_ATTRIBUTE_SENSITIVE && rv != CKR_ATTRIBUTE_TYPE_INVALID) return rv;
  if (answer_is("sensitive")) return CKR_ATTRIBUTE_SENSITIVE;
  if (answer_is("type-invalid")) return CKR_ATTRIBUTE_TYPE_INVALID;
  if (answer_is("too-small")) return CKR_BUFFER_TOO_SMALL;
  return rv; /* ok-unavailable: whatever SoftHSM said of the others */
}

static CK_RV shim_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info) {
  CK_RV rv = real->C_GetTokenInfo(slot, info);
  const char *serial = getenv("RAA_SHIM_TOKEN_SERIAL");
  const char *label = getenv("RAA_SHIM_TOKEN_LABEL");
  if (rv != CKR_OK) return rv;
  const char *failing = getenv("RAA_SHIM_TOKEN_INFO_ERROR");
  if (failing != NULL && strtoul(failing, NULL, 10) == slot) return CKR_DEVICE_ERROR;
  if (serial != NULL) {
    size_t length = strlen(serial);
    memset(info->serialNumber, ' ', sizeof info->serialNumber);
    memcpy(info->serialNumber, serial, length < sizeof info->serialNumber ? length : sizeof info->serialNumber);
  }
  if (label != NULL) {
    memset(info->label, ' ', sizeof info->label);
    for (size_t i = 0; i < sizeof info->label && label[2 * i] != 0 && label[2 * i + 1] != 0; i++) {
      char hex[3] = {label[2 * i], label[2 * i + 1], 0};
      info->label[i] = (CK_UTF8CHAR)strtoul(hex, NULL, 16);
    }
  }
  return rv;
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  if (list == NULL) return CKR_ARGUMENTS_BAD;
  if (real == NULL) {
    const char *path = getenv("RAA_SHIM_TARGET");
    void *module = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
    CK_C_GetFunctionList get = module ? (CK_C_GetFunctionList)dlsym(module, "C_GetFunctionList") : NULL;
    if (get == NULL || get(&real) != CKR_OK) return CKR_GENERAL_ERROR;
    shim = *real;
    shim.C_GetAttributeValue = shim_GetAttributeValue;
    shim.C_GetTokenInfo = shim_GetTokenInfo;
    no_login = shim;
    no_login.C_Login = NULL;
  }
  *list = getenv("RAA_SHIM_NO_LOGIN") ? &no_login : &shim;
  return CKR_OK;
}
