/* SPDX-License-Identifier: MIT */
#ifndef PW_AUTH_H
#define PW_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * CURVE keys and the ZAP handler that decides who may connect.
 *
 * A key file is text, "name = value" lines and # comments:
 *     name = hongshan
 *     role = district
 *     public-key = <40 Z85 characters>
 *     secret-key = <40 Z85 characters>      (only in NAME.secret, mode 0600)
 * NAME.pub holds the public part only and can be handed out freely.
 *
 * A keyring is a directory of NAME.pub files: the peers a server accepts. The
 * ZAP handler answers the handshakes of every CURVE server socket in its ZeroMQ
 * context; an accepted connection's "User-Id" is its public key in Z85, so
 * that each message can be traced to the key that sent it, and a key removed
 * at a reload stops working on connections already open.
 */

#define PW_KEY_Z85 40 /* a 32-byte key in Z85 */

typedef struct pw_key {
    char name[64];
    char role[32];
    char public_z85[PW_KEY_Z85 + 1];
    char secret_z85[PW_KEY_Z85 + 1]; /**< "" when the file held the public part only */
} pw_key_t;

/**
 * Creates a new keypair as DIR/NAME.pub and DIR/NAME.secret (mode 0600).
 * An existing pair is kept (-EEXIST) unless force. 0 or -errno.
 */
int pw_key_generate(const char *dir, const char *name, const char *role, bool force);

/** Reads a key file; err gets "file:line: why". 0 or PW_EKEY. */
int pw_key_load(const char *path, pw_key_t *key, char *err, size_t errlen);

/** Reads DIR/NAME.secret and checks it has both parts. 0 or PW_EKEY. */
int pw_key_load_secret(const char *dir, const char *name, pw_key_t *key, char *err,
                       size_t errlen);

typedef struct pw_keyring pw_keyring_t;

/** Loads every DIR/ *.pub (none is fine). 0 or PW_EKEY with err set. Caller owns *out. */
int pw_keyring_load(const char *dir, pw_keyring_t **out, char *err, size_t errlen);

/** The name of the key with that public part, or NULL. */
const char *pw_keyring_find(const pw_keyring_t *ring, const char *public_z85);

/** Number of keys; the i-th key (0 <= i < size). */
size_t pw_keyring_size(const pw_keyring_t *ring);
const pw_key_t *pw_keyring_key(const pw_keyring_t *ring, size_t i);

/** Frees the keyring, NULLs *ring_p. NULL-safe. */
void pw_keyring_destroy(pw_keyring_t **ring_p);

typedef struct pw_zap pw_zap_t;

/**
 * Binds the ZAP handler of ctx (inproc://zeromq.zap.01). Fails (-EADDRINUSE)
 * if the context already has one. Caller owns *out.
 */
int pw_zap_new(void *ctx, pw_zap_t **out);

/** The handler's socket, to poll for ZMQ_POLLIN. */
void *pw_zap_socket(pw_zap_t *zap);

/**
 * Answers every waiting handshake: a CURVE client whose public key is in ring
 * is accepted (User-Id = its Z85 key); any other is refused. Never blocks.
 */
void pw_zap_serve(pw_zap_t *zap, const pw_keyring_t *ring);

/** Handshakes accepted and refused so far. */
uint64_t pw_zap_accepted(const pw_zap_t *zap);
uint64_t pw_zap_refused(const pw_zap_t *zap);

/** Closes the handler, NULLs *zap_p. NULL-safe. Call before zmq_ctx_term. */
void pw_zap_destroy(pw_zap_t **zap_p);

/** Makes sock a CURVE server with this secret key (before bind). 0 or -errno. */
int pw_curve_server(void *sock, const pw_key_t *server);

/** Makes sock a CURVE client of the server's public key (before connect). 0 or -errno. */
int pw_curve_client(void *sock, const pw_key_t *client, const char *server_public_z85);

/**
 * The rule for an endpoint without CURVE keys: ipc:// is fine (file
 * permissions guard it); TCP only when insecure, with a warning; else an
 * error is logged. 0 or -EPERM. Always 0 with keys_dir.
 */
int pw_transport_check(const char *endpoint, const char *keys_dir, bool insecure);

/**
 * Secures a client socket about to connect to endpoint. With keys_dir: CURVE
 * as DIR/SUB/NAME.secret, trusting the server key DIR/SERVER.pub. Without:
 * fine for ipc://; for TCP only when insecure, with a warning. Logs why it
 * refuses. 0, PW_EKEY, or -EPERM (TCP without keys nor insecure).
 */
int pw_curve_client_setup(void *sock, const char *endpoint, const char *keys_dir,
                          const char *sub, const char *name, const char *server, bool insecure);

/** True for an endpoint only reachable through the file system or the process (ipc, inproc). */
bool pw_endpoint_is_local(const char *endpoint);

#endif
