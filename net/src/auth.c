/* SPDX-License-Identifier: MIT */
#define _DEFAULT_SOURCE /* DT_REG, fchmod */
#include "pw/auth.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "pw/text.h"
#include "pw/error.h"
#include "pw/handshake.h"
#include "pw/log.h"
#include "pw/util.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN   "planwatch"

static int key_error(char *err, size_t errlen, const char *path, int line, const char *why)
{
    if (errlen > 0) {
        if (line > 0)
            snprintf(err, errlen, "%s:%d: %s", path, line, why);
        else
            snprintf(err, errlen, "%s: %s", path, why);
    }
    return PW_EKEY;
}

/* A Z85 text that decodes to exactly 32 bytes. */
static bool z85_valid(const char *s, size_t n)
{
    if (n != PW_KEY_Z85)
        return false;
    char text[PW_KEY_Z85 + 1];
    memcpy(text, s, n);
    text[n] = '\0';
    uint8_t bin[32];
    return zmq_z85_decode(bin, text) != NULL;
}

static bool name_valid(const char *s, size_t n)
{
    if (n == 0 || n >= sizeof(((pw_key_t *)0)->name))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return s[0] != '.';
}

static int write_file(const char *path, const char *text, mode_t mode, bool force)
{
    /* O_EXCL unless forced, and the mode is set at creation: a secret is never
     * readable by others, not even for an instant. */
    int flags = O_WRONLY | O_CREAT | (force ? O_TRUNC : O_EXCL);
    int fd = open(path, flags, mode);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (fchmod(fd, mode) != 0)
        rc = -errno;
    size_t len = strlen(text), off = 0;
    while (rc == 0 && off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = -errno;
        else
            off += (size_t)n;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    return rc;
}

int pw_key_generate(const char *dir, const char *name, const char *role, bool force)
{
    if (!name_valid(name, strlen(name)))
        return -EINVAL;
    char pub[PW_KEY_Z85 + 1], sec[PW_KEY_Z85 + 1];
    if (zmq_curve_keypair(pub, sec) != 0)
        return -zmq_errno();
    int rc = pw_mkdir_p(dir);
    if (rc != 0)
        return rc;
    char ppath[4096], spath[4096], text[512];
    snprintf(ppath, sizeof(ppath), "%s/%s.pub", dir, name);
    snprintf(spath, sizeof(spath), "%s/%s.secret", dir, name);
    if (!force && (access(ppath, F_OK) == 0 || access(spath, F_OK) == 0))
        return -EEXIST;
    /* The secret first: a .pub without its .secret would let a server accept a
     * key nobody holds, the reverse is harmless. */
    snprintf(text, sizeof(text),
             "# planwatch CURVE key pair. Keep this file secret (mode 0600): whoever\n"
             "# holds it can speak as '%s'.\n"
             "name = %s\nrole = %s\npublic-key = %s\nsecret-key = %s\n",
             name, name, role, pub, sec);
    if ((rc = write_file(spath, text, 0600, force)) != 0)
        return rc;
    snprintf(text, sizeof(text),
             "# planwatch CURVE public key: can be handed out freely.\n"
             "name = %s\nrole = %s\npublic-key = %s\n",
             name, role, pub);
    return write_file(ppath, text, 0644, force);
}

int pw_key_load(const char *path, pw_key_t *key, char *err, size_t errlen)
{
    memset(key, 0, sizeof(*key));
    char *buf = NULL;
    size_t len = 0;
    int rc = pw__text_read_file(path, &buf, &len);
    if (rc != 0) {
        pw__text_sys_error(err, errlen, path, rc);
        return PW_EKEY;
    }
    rc = 0;
    int line = 0;
    for (size_t pos = 0; pos < len && rc == 0;) {
        line++;
        const char *s = buf + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + 1;
        pw__text_trim(&s, &n);
        if (n == 0 || s[0] == '#')
            continue;
        const char *eq = memchr(s, '=', n);
        if (!eq) {
            rc = key_error(err, errlen, path, line, "expected 'name = value'");
            break;
        }
        const char *k = s, *v = eq + 1;
        size_t kn = (size_t)(eq - s), vn = n - kn - 1;
        pw__text_trim(&k, &kn);
        pw__text_trim(&v, &vn);
        char *dst = NULL;
        size_t cap = 0;
        bool is_key = false;
        if (kn == 4 && memcmp(k, "name", 4) == 0) {
            if (!name_valid(v, vn))
                rc = key_error(err, errlen, path, line, "name: letters, digits, '_', '-', '.'");
            dst = key->name, cap = sizeof(key->name);
        } else if (kn == 4 && memcmp(k, "role", 4) == 0) {
            dst = key->role, cap = sizeof(key->role);
        } else if (kn == 10 && memcmp(k, "public-key", 10) == 0) {
            dst = key->public_z85, cap = sizeof(key->public_z85), is_key = true;
        } else if (kn == 10 && memcmp(k, "secret-key", 10) == 0) {
            dst = key->secret_z85, cap = sizeof(key->secret_z85), is_key = true;
        } else {
            rc = key_error(err, errlen, path, line, "unknown setting");
            break;
        }
        if (rc != 0)
            break;
        if (dst[0]) {
            rc = key_error(err, errlen, path, line, "setting given twice");
            break;
        }
        if (is_key && !z85_valid(v, vn)) {
            rc = key_error(err, errlen, path, line, "not a 40-character Z85 key");
            break;
        }
        if (vn >= cap) {
            rc = key_error(err, errlen, path, line, "value too long");
            break;
        }
        memcpy(dst, v, vn);
        dst[vn] = '\0';
    }
    free(buf);
    if (rc == 0 && !key->public_z85[0])
        rc = key_error(err, errlen, path, 0, "no public-key");
    if (rc == 0 && key->secret_z85[0]) {
        /* A secret that does not match its public part would fail every
         * handshake with no hint why: say it here. */
        char derived[PW_KEY_Z85 + 1];
        if (zmq_curve_public(derived, key->secret_z85) != 0 ||
            strcmp(derived, key->public_z85) != 0)
            rc = key_error(err, errlen, path, 0, "secret-key does not match public-key");
    }
    if (rc == 0 && !key->name[0]) {
        /* No name: the file's, without directory and extension. */
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        size_t n = strcspn(base, ".");
        if (!name_valid(base, n))
            rc = key_error(err, errlen, path, 0, "no name, and the file name is not one");
        else
            snprintf(key->name, sizeof(key->name), "%.*s", (int)n, base);
    }
    return rc;
}

int pw_key_load_secret(const char *dir, const char *name, pw_key_t *key, char *err,
                       size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.secret", dir, name);
    int rc = pw_key_load(path, key, err, errlen);
    if (rc == 0 && !key->secret_z85[0])
        rc = key_error(err, errlen, path, 0, "no secret-key");
    if (rc == 0) {
        struct stat st;
        if (stat(path, &st) == 0 && (st.st_mode & 077))
            rc = key_error(err, errlen, path, 0,
                           "readable by others: chmod 600 it (and consider it exposed)");
    }
    return rc;
}

struct pw_keyring {
    pw_key_t *keys;
    size_t n, cap;
};

static int name_cmp(const void *a, const void *b)
{
    return strcmp(((const pw_key_t *)a)->name, ((const pw_key_t *)b)->name);
}

int pw_keyring_load(const char *dir, pw_keyring_t **out, char *err, size_t errlen)
{
    *out = NULL;
    pw_keyring_t *ring = calloc(1, sizeof(*ring));
    if (!ring)
        return -ENOMEM;
    int rc = 0;
    DIR *d = opendir(dir);
    if (!d) {
        rc = -errno;
        pw__text_sys_error(err, errlen, dir, rc);
        free(ring);
        return PW_EKEY;
    }
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".pub") != 0 || de->d_name[0] == '.')
            continue;
        pw_key_t *grown = pw__text_reserve(ring->keys, ring->n + 1, &ring->cap, sizeof(pw_key_t));
        if (!grown) {
            rc = -ENOMEM;
            break;
        }
        ring->keys = grown;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        pw_key_t *k = &ring->keys[ring->n];
        if ((rc = pw_key_load(path, k, err, errlen)) != 0)
            break;
        if (k->secret_z85[0]) {
            /* Public files only: a keyring is what a server trusts, and
             * secrets have no business there. */
            rc = key_error(err, errlen, path, 0, "a .pub file must not hold a secret-key");
            break;
        }
        for (size_t i = 0; i < ring->n && rc == 0; i++) {
            if (strcmp(ring->keys[i].public_z85, k->public_z85) == 0)
                rc = key_error(err, errlen, path, 0, "same public key as another file");
            else if (strcmp(ring->keys[i].name, k->name) == 0)
                rc = key_error(err, errlen, path, 0, "same name as another key");
        }
        if (rc == 0)
            ring->n++;
    }
    closedir(d);
    if (rc != 0) {
        pw_keyring_destroy(&ring);
        return rc == -ENOMEM ? rc : PW_EKEY;
    }
    qsort(ring->keys, ring->n, sizeof(pw_key_t), name_cmp);
    *out = ring;
    return 0;
}

const char *pw_keyring_find(const pw_keyring_t *ring, const char *public_z85)
{
    if (!ring || !public_z85)
        return NULL;
    for (size_t i = 0; i < ring->n; i++)
        if (strcmp(ring->keys[i].public_z85, public_z85) == 0)
            return ring->keys[i].name;
    return NULL;
}

size_t pw_keyring_size(const pw_keyring_t *ring)
{
    return ring ? ring->n : 0;
}

const pw_key_t *pw_keyring_key(const pw_keyring_t *ring, size_t i)
{
    return ring && i < ring->n ? &ring->keys[i] : NULL;
}

void pw_keyring_destroy(pw_keyring_t **ring_p)
{
    if (!ring_p || !*ring_p)
        return;
    free((*ring_p)->keys);
    free(*ring_p);
    *ring_p = NULL;
}

struct pw_zap {
    void *sock;
    uint64_t accepted, refused;
    pw_refusal_limit_t limit; /* a log line per address and while at most */
};

int pw_zap_new(void *ctx, pw_zap_t **out)
{
    *out = NULL;
    pw_zap_t *zap = calloc(1, sizeof(*zap));
    if (!zap)
        return -ENOMEM;
    zap->sock = zmq_socket(ctx, ZMQ_REP);
    int linger = 0;
    if (!zap->sock || zmq_setsockopt(zap->sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_bind(zap->sock, ZAP_ENDPOINT) != 0) {
        int rc = -zmq_errno();
        pw_zap_destroy(&zap);
        return rc;
    }
    *out = zap;
    return 0;
}

void *pw_zap_socket(pw_zap_t *zap)
{
    return zap->sock;
}

/* Receives the next frame of a request into buf (truncated to cap); its true size. */
static int recv_frame(void *sock, char *buf, size_t cap, int flags, bool *more)
{
    int n = zmq_recv(sock, buf, cap, flags);
    if (n < 0)
        return -1;
    int m = 0;
    size_t ml = sizeof(m);
    zmq_getsockopt(sock, ZMQ_RCVMORE, &m, &ml);
    *more = m != 0;
    return n;
}

/* A refused handshake is invisible to the client, which only times out: the
 * server says whose and why, once per address and while (pw_refusal_log). */
static void log_refusal(pw_zap_t *zap, const char *addr, int alen, const char *key,
                        const char *text)
{
    char a[64], why[160], z85[PW_KEY_Z85 + 1] = "";
    zap->refused++;
    snprintf(a, sizeof(a), "%.*s", alen > 0 && alen < 64 ? alen : 0, addr);
    if (key && zmq_z85_encode(z85, (const uint8_t *)key, 32))
        snprintf(why, sizeof(why),
                 "unknown client key %s (not among the keys accepted: a wrong --keys, or a key "
                 "revoked, or added without kill -HUP?)",
                 z85);
    else
        snprintf(why, sizeof(why), "%s", text);
    pw_refusal_log(&zap->limit, PW_LOG_WARN, "CURVE", a[0] ? a : "an unknown address", why);
}

void pw_zap_serve(pw_zap_t *zap, const pw_keyring_t *ring)
{
    for (;;) {
        /* Frames: version, request id, domain, address, routing id, mechanism,
         * credentials (for CURVE: the client's 32-byte public key). */
        char frames[7][256];
        int sizes[7] = {0};
        int nf = 0;
        bool more = true;
        int first = recv_frame(zap->sock, frames[0], sizeof(frames[0]), ZMQ_DONTWAIT, &more);
        if (first < 0)
            return;
        sizes[nf++] = first;
        while (more) {
            char skip[256];
            char *dst = nf < 7 ? frames[nf] : skip;
            int n = recv_frame(zap->sock, dst, 256, 0, &more);
            if (n < 0)
                break;
            if (nf < 7)
                sizes[nf++] = n;
        }
        const char *status = "400", *text = "unknown key";
        char user[PW_KEY_Z85 + 1] = "";
        bool curve = nf == 7 && sizes[5] == 5 && memcmp(frames[5], "CURVE", 5) == 0 &&
                     sizes[6] == 32;
        if (nf >= 1 && !(sizes[0] == 3 && memcmp(frames[0], "1.0", 3) == 0)) {
            text = "unsupported ZAP version";
        } else if (!curve) {
            text = "CURVE required";
        } else if (zmq_z85_encode(user, (const uint8_t *)frames[6], 32) &&
                   pw_keyring_find(ring, user)) {
            status = "200";
            text = "OK";
        } else {
            user[0] = '\0';
        }
        if (status[0] == '2')
            zap->accepted++;
        else
            log_refusal(zap, nf > 3 ? frames[3] : "", nf > 3 ? sizes[3] : 0, curve ? frames[6] : NULL,
                        text);
        int reqid = nf >= 2 ? sizes[1] : 0;
        if (reqid > 256)
            reqid = 256;
        zmq_send(zap->sock, "1.0", 3, ZMQ_SNDMORE);
        zmq_send(zap->sock, frames[1], (size_t)reqid, ZMQ_SNDMORE);
        zmq_send(zap->sock, status, 3, ZMQ_SNDMORE);
        zmq_send(zap->sock, text, strlen(text), ZMQ_SNDMORE);
        zmq_send(zap->sock, user, strlen(user), ZMQ_SNDMORE);
        zmq_send(zap->sock, "", 0, 0);
    }
}

uint64_t pw_zap_accepted(const pw_zap_t *zap)
{
    return zap ? zap->accepted : 0;
}

uint64_t pw_zap_refused(const pw_zap_t *zap)
{
    return zap ? zap->refused : 0;
}

void pw_zap_destroy(pw_zap_t **zap_p)
{
    if (!zap_p || !*zap_p)
        return;
    if ((*zap_p)->sock)
        zmq_close((*zap_p)->sock);
    free(*zap_p);
    *zap_p = NULL;
}

int pw_curve_server(void *sock, const pw_key_t *server)
{
    int one = 1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one)) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, server->secret_z85, PW_KEY_Z85 + 1) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN)) != 0)
        return -zmq_errno();
    return 0;
}

int pw_curve_client(void *sock, const pw_key_t *client, const char *server_public_z85)
{
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_public_z85, PW_KEY_Z85 + 1) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, client->public_z85, PW_KEY_Z85 + 1) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, client->secret_z85, PW_KEY_Z85 + 1) != 0)
        return -zmq_errno();
    return 0;
}

int pw_transport_check(const char *endpoint, const char *keys_dir, bool insecure)
{
    if (keys_dir || pw_endpoint_is_local(endpoint))
        return 0;
    if (!insecure) {
        PW_ERROR("%s is a network endpoint: give --keys DIR (CURVE keys, see 'planwatch "
                 "keygen') or, for loopback experiments only, --insecure",
                 endpoint);
        return -EPERM;
    }
    PW_WARN("--insecure: CURVE is off: what goes through %s can be read and forged", endpoint);
    return 0;
}

int pw_curve_client_setup(void *sock, const char *endpoint, const char *keys_dir,
                          const char *sub, const char *name, const char *server, bool insecure)
{
    if (!keys_dir)
        return pw_transport_check(endpoint, keys_dir, insecure);
    char dir[4096], path[4096], err[512] = "";
    snprintf(dir, sizeof(dir), "%s/%s", keys_dir, sub);
    snprintf(path, sizeof(path), "%s/%s.pub", keys_dir, server);
    pw_key_t mine, theirs;
    int rc = pw_key_load(path, &theirs, err, sizeof(err));
    if (rc == 0)
        rc = pw_key_load_secret(dir, name, &mine, err, sizeof(err));
    if (rc == 0 && (rc = pw_curve_client(sock, &mine, theirs.public_z85)) != 0)
        snprintf(err, sizeof(err), "CURVE: %s", pw_strerror(rc));
    pw_secure_zero(&mine, sizeof(mine));
    if (rc != 0)
        PW_ERROR("%s", err);
    return rc;
}

bool pw_endpoint_is_local(const char *endpoint)
{
    return strncmp(endpoint, "ipc://", 6) == 0 || strncmp(endpoint, "inproc://", 9) == 0;
}
