/* SPDX-License-Identifier: MIT */
#ifndef PW_ERROR_H
#define PW_ERROR_H

/*
 * Error codes. Every fallible function returns 0 (PW_OK) or a negative code:
 * -errno for system failures, or one of ours, which live below -1000 so they
 * never collide with an errno. The names (without the PW_ prefix) are also the
 * reason codes a NACK carries on the wire, so they never change meaning.
 */
#define PW_ERROR_MAP(XX)                                                                  \
    XX(EMALFORMED, -1001, "malformed message")                                            \
    XX(EVERSION, -1002, "unsupported protocol version")                                   \
    XX(EDISTRICT, -1003, "unknown district")                                              \
    XX(EELEMENT, -1004, "unknown data element")                                           \
    XX(EPERIOD, -1005, "period malformed or outside the plan")                            \
    XX(EVALUE, -1006, "value not a finite number in range")                               \
    XX(EREPORTER, -1007, "element not reported at this district's level")                 \
    XX(ESEQ, -1008, "sequence number out of range")                                       \
    XX(ETIME, -1009, "timestamp out of range")                                            \
    XX(ESTOREFULL, -1010, "store is full (retryable)")                                    \
    XX(ENOTFOUND, -1011, "not found")                                                     \
    XX(ECATALOG, -1012, "invalid catalog")                                                \
    XX(EDATA, -1013, "invalid data file")                                                 \
    XX(ESTORE, -1014, "store error")                                                      \
    XX(ETIMEOUT, -1015, "timed out")                                                      \
    XX(ETYPE, -1016, "unexpected message type")                                           \
    XX(ESTALE, -1017, "stale or unknown collector epoch")                                 \
    XX(EGAP, -1018, "sequence gap: resend from the acknowledged sequence")                \
    XX(EREJECTED, -1019, "some updates were rejected")                                    \
    XX(EINCOMPAT, -1020, "store was written with another catalog or format")            \
    XX(EFORBIDDEN, -1021, "this key may not speak for that district")                     \
    XX(EAUTH, -1022, "key unknown or revoked")                                            \
    XX(EKEY, -1023, "invalid key file")

enum pw_error {
    PW_OK = 0,
#define PW_ERROR_ENUM(name, code, text) PW_##name = (code),
    PW_ERROR_MAP(PW_ERROR_ENUM)
#undef PW_ERROR_ENUM
};

/** Human text for any code: ours, or a negative errno. Never NULL; static storage. */
const char *pw_strerror(int rc);

/** The code's name without prefix ("EPERIOD", "ENOENT"...); "UNKNOWN" if none. */
const char *pw_err_name(int rc);

/** The code for a name given by pw_err_name(), or 0 if the name is unknown. */
int pw_err_from_name(const char *name);

#endif
