/* SPDX-License-Identifier: MIT */
/*
 * Key files, keyrings and the ZAP handler (auth.h), over inproc and ipc
 * sockets in one process. Also pins down libzmq's own default: a CURVE server
 * without a ZAP handler lets any client key in, which is why the aggregator
 * and the publisher refuse to start without theirs.
 */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "pw/auth.h"
#include "pw/error.h"
#include "pw/util.h"
#include "tmpdir.h"

static char dir[64];
static void *ctx;

static void setup(void)
{
    cr_assert_eq(pw_tmpdir_make(dir), 0);
    ctx = zmq_ctx_new();
}

static void teardown(void)
{
    zmq_ctx_term(ctx);
    pw_tmpdir_remove(dir);
}

TestSuite(auth, .init = setup, .fini = teardown, .timeout = 60.0);

static void load_pair(const char *name, pw_key_t *k)
{
    char err[512] = "";
    cr_assert_eq(pw_key_load_secret(dir, name, k, err, sizeof(err)), 0, "%s", err);
}

Test(auth, generate_then_load)
{
    cr_assert_eq(pw_key_generate(dir, "hongshan", "district", false), 0);
    pw_key_t k, p;
    load_pair("hongshan", &k);
    cr_assert_str_eq(k.name, "hongshan");
    cr_assert_str_eq(k.role, "district");
    char path[128], err[512];
    snprintf(path, sizeof(path), "%s/hongshan.pub", dir);
    cr_assert_eq(pw_key_load(path, &p, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(p.public_z85, k.public_z85);
    cr_assert_str_eq(p.secret_z85, "");
    struct stat st;
    snprintf(path, sizeof(path), "%s/hongshan.secret", dir);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    /* Kept unless forced; forced, a new pair. */
    cr_assert_eq(pw_key_generate(dir, "hongshan", "district", false), -EEXIST);
    cr_assert_eq(pw_key_generate(dir, "hongshan", "district", true), 0);
    pw_key_t k2;
    load_pair("hongshan", &k2);
    cr_assert_str_neq(k2.public_z85, k.public_z85);
    cr_assert_eq(pw_key_generate(dir, "../evil", "district", false), -EINVAL);
    cr_assert_eq(pw_key_generate(dir, "", "district", false), -EINVAL);
}

static int load_text(const char *text, pw_key_t *k, char *err, size_t errlen)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/k.secret", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
    return pw_key_load(path, k, err, errlen);
}

Test(auth, bad_key_files_are_refused_with_file_and_line)
{
    pw_key_t k;
    char err[512];
    const struct {
        const char *text, *why;
    } bad[] = {
        {"public-key\n", "k.secret:1: expected 'name = value'"},
        {"name = a\ncolour = red\n", "k.secret:2: unknown setting"},
        {"public-key = abc\n", "k.secret:1: not a 40-character Z85 key"},
        {"public-key = rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n"
         "public-key = rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n",
         "k.secret:2: setting given twice"},
        {"name = a\n", "no public-key"},
        {"name = a b\npublic-key = rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n", "k.secret:1: name"},
        {"public-key = rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n"
         "secret-key = D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs\n",
         "secret-key does not match public-key"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        cr_assert_eq(load_text(bad[i].text, &k, err, sizeof(err)), PW_EKEY, "case %zu", i);
        cr_assert(strstr(err, bad[i].why), "case %zu: %s", i, err);
    }
    /* The documented pair from the zmq_curve man page, with comments and blanks. */
    cr_assert_eq(load_text("# server\n\n  public-key = rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7 \n"
                           "secret-key = JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6\n",
                           &k, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_str_eq(k.name, "k", "the file's name when none is given");
}

Test(auth, keyring_finds_by_public_key_and_refuses_duplicates)
{
    char ring[128];
    snprintf(ring, sizeof(ring), "%s/ring", dir);
    cr_assert_eq(pw_key_generate(ring, "a", "desk", false), 0);
    cr_assert_eq(pw_key_generate(ring, "b", "desk", false), 0);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm %s/*.secret", ring);
    cr_assert_eq(system(cmd), 0);
    pw_keyring_t *r = NULL;
    char err[512] = "";
    cr_assert_eq(pw_keyring_load(ring, &r, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(pw_keyring_size(r), 2);
    const pw_key_t *a = pw_keyring_key(r, 0);
    cr_assert_str_eq(a->name, "a");
    cr_assert_str_eq(pw_keyring_find(r, a->public_z85), "a");
    cr_assert_null(pw_keyring_find(r, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"));
    cr_assert_null(pw_keyring_find(r, NULL));
    pw_keyring_destroy(&r);
    cr_assert_null(r);
    snprintf(cmd, sizeof(cmd), "cp %s/a.pub %s/c.pub", ring, ring);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(pw_keyring_load(ring, &r, err, sizeof(err)), PW_EKEY);
    cr_assert(strstr(err, "same name") || strstr(err, "same public key"), "%s", err);
    snprintf(cmd, sizeof(cmd), "%s/none", dir);
    cr_assert_eq(pw_keyring_load(cmd, &r, err, sizeof(err)), PW_EKEY);
}

/* Serves the REP echo (and the ZAP handler, if any) while a client talks. */
struct echo {
    void *rep;
    pw_zap_t *zap;
    const pw_keyring_t *ring;
    char user[64];
};

static bool talk_served(struct echo *e, const char *ep, const pw_key_t *client,
                        const char *server_pub)
{
    void *c = zmq_socket(ctx, ZMQ_REQ);
    int zero = 0;
    zmq_setsockopt(c, ZMQ_LINGER, &zero, sizeof(zero));
    cr_assert_eq(pw_curve_client(c, client, server_pub), 0);
    cr_assert_eq(zmq_connect(c, ep), 0);
    zmq_send(c, "hi", 2, 0);
    bool answered = false;
    int64_t end = pw_mono_ms() + 1500;
    while (!answered && pw_mono_ms() < end) {
        zmq_pollitem_t items[] = {{e->rep, 0, ZMQ_POLLIN, 0},
                                  {c, 0, ZMQ_POLLIN, 0},
                                  {e->zap ? pw_zap_socket(e->zap) : NULL, 0, ZMQ_POLLIN, 0}};
        zmq_poll(items, e->zap ? 3 : 2, 50);
        if (e->zap && (items[2].revents & ZMQ_POLLIN))
            pw_zap_serve(e->zap, e->ring);
        if (items[0].revents & ZMQ_POLLIN) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            zmq_msg_recv(&m, e->rep, 0);
            const char *u = zmq_msg_gets(&m, "User-Id");
            snprintf(e->user, sizeof(e->user), "%s", u ? u : "");
            zmq_msg_close(&m);
            zmq_send(e->rep, "ok", 2, 0);
        }
        if (items[1].revents & ZMQ_POLLIN)
            answered = true;
    }
    zmq_close(c);
    return answered;
}

Test(auth, zap_accepts_known_keys_only_and_names_them)
{
    cr_assert_eq(pw_key_generate(dir, "server", "aggregator", false), 0);
    cr_assert_eq(pw_key_generate(dir, "known", "district", false), 0);
    cr_assert_eq(pw_key_generate(dir, "stranger", "district", false), 0);
    pw_key_t server, known, stranger;
    load_pair("server", &server);
    load_pair("known", &known);
    load_pair("stranger", &stranger);
    char ring_dir[128], cmd[512];
    snprintf(ring_dir, sizeof(ring_dir), "%s/ring", dir);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp %s/known.pub %s/", ring_dir, dir, ring_dir);
    cr_assert_eq(system(cmd), 0);
    pw_keyring_t *ring = NULL;
    char err[512] = "";
    cr_assert_eq(pw_keyring_load(ring_dir, &ring, err, sizeof(err)), 0, "%s", err);

    struct echo e = {.ring = ring};
    cr_assert_eq(pw_zap_new(ctx, &e.zap), 0);
    pw_zap_t *second = NULL;
    cr_assert_eq(pw_zap_new(ctx, &second), -EADDRINUSE, "one handler per context");
    e.rep = zmq_socket(ctx, ZMQ_REP);
    cr_assert_eq(pw_curve_server(e.rep, &server), 0);
    char ep[128];
    snprintf(ep, sizeof(ep), "ipc://%s/s.sock", dir);
    cr_assert_eq(zmq_bind(e.rep, ep), 0);
    cr_assert(talk_served(&e, ep, &known, server.public_z85));
    cr_assert_str_eq(e.user, known.public_z85, "User-Id is the client's key");
    cr_assert_not(talk_served(&e, ep, &stranger, server.public_z85));
    cr_assert_eq(pw_zap_accepted(e.zap), 1);
    cr_assert_geq(pw_zap_refused(e.zap), 1);
    zmq_close(e.rep);
    pw_zap_destroy(&e.zap);
    cr_assert_null(e.zap);
    pw_keyring_destroy(&ring);
}

Test(auth, libzmq_lets_any_key_in_without_a_zap_handler)
{
    /* Why the daemons refuse to start without their handler: this is what
     * libzmq does otherwise. If a libzmq release changes it, this test says so. */
    cr_assert_eq(pw_key_generate(dir, "server", "aggregator", false), 0);
    cr_assert_eq(pw_key_generate(dir, "stranger", "district", false), 0);
    pw_key_t server, stranger;
    load_pair("server", &server);
    load_pair("stranger", &stranger);
    struct echo e = {0};
    e.rep = zmq_socket(ctx, ZMQ_REP);
    cr_assert_eq(pw_curve_server(e.rep, &server), 0);
    char ep[128];
    snprintf(ep, sizeof(ep), "ipc://%s/bare.sock", dir);
    cr_assert_eq(zmq_bind(e.rep, ep), 0);
    cr_assert(talk_served(&e, ep, &stranger, server.public_z85));
    zmq_close(e.rep);
}

Test(auth, transport_rules)
{
    cr_assert(pw_endpoint_is_local("ipc:///tmp/x"));
    cr_assert(pw_endpoint_is_local("inproc://x"));
    cr_assert_not(pw_endpoint_is_local("tcp://127.0.0.1:1"));
    cr_assert_eq(pw_transport_check("ipc:///tmp/x", NULL, false), 0);
    cr_assert_eq(pw_transport_check("tcp://127.0.0.1:1", NULL, false), -EPERM);
    cr_assert_eq(pw_transport_check("tcp://127.0.0.1:1", NULL, true), 0);
    cr_assert_eq(pw_transport_check("tcp://127.0.0.1:1", "/keys", false), 0);
}
