/* SPDX-License-Identifier: MIT */
/*
 * Baselines: what the machine does with planwatch's update without planwatch.
 * Raw ZeroMQ PUSH->PULL over tcp loopback; ROUTER/DEALER with one ack per
 * message at windows 1, 64 and 1024; a raw LMDB append of the records in
 * batches with LMDB's default (durable) sync; a raw LMDB cursor scan with
 * msgpack decode. The payload is a real encoded update (pw_msg_encode), so
 * every figure is for planwatch's message size. Repeated, interleaved; prints
 * medians and spreads, and the medians as "key value" lines for bench/run.
 *
 * usage: pw_bench_base [REPETITIONS]
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>
#include <msgpack.h>
#include <zmq.h>

#include "bench_util.h"
#include "pw/msg.h"
#include "pw/util.h"

#define PUSH_N 2000000
#define LMDB_N 2000000

static char payload[256];
static size_t payload_len;
static char dir[64];

struct sink {
    void *sock;
    long n;
};

static void *pull_thread(void *arg)
{
    struct sink *s = arg;
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (long i = 0; i < s->n; i++)
        if (zmq_msg_recv(&m, s->sock, 0) < 0)
            break;
    zmq_msg_close(&m);
    return NULL;
}

/* Messages per second from one PUSH to one PULL, both ends in this process. */
static double push_pull(void)
{
    void *ctx = zmq_ctx_new();
    void *pull = zmq_socket(ctx, ZMQ_PULL), *push = zmq_socket(ctx, ZMQ_PUSH);
    char ep[64];
    size_t len = sizeof(ep);
    zmq_bind(pull, "tcp://127.0.0.1:*");
    zmq_getsockopt(pull, ZMQ_LAST_ENDPOINT, ep, &len);
    zmq_connect(push, ep);
    struct sink s = {pull, PUSH_N};
    pthread_t thr;
    int64_t t0 = bench_now_us();
    pthread_create(&thr, NULL, pull_thread, &s);
    for (long i = 0; i < PUSH_N; i++)
        zmq_send(push, payload, payload_len, 0);
    pthread_join(thr, NULL);
    double rate = PUSH_N / ((double)(bench_now_us() - t0) / 1e6);
    zmq_close(push);
    zmq_close(pull);
    zmq_ctx_term(ctx);
    return rate;
}

/* The ROUTER answers each message with an 8-byte ack, like the aggregator. */
static void *router_thread(void *arg)
{
    struct sink *s = arg;
    zmq_msg_t id, m;
    zmq_msg_init(&id);
    zmq_msg_init(&m);
    for (long i = 0; i < s->n; i++) {
        if (zmq_msg_recv(&id, s->sock, 0) < 0 || zmq_msg_recv(&m, s->sock, 0) < 0)
            break;
        uint64_t ack = (uint64_t)i;
        zmq_msg_send(&id, s->sock, ZMQ_SNDMORE);
        zmq_send(s->sock, &ack, sizeof(ack), 0);
    }
    zmq_msg_close(&id);
    zmq_msg_close(&m);
    return NULL;
}

/* Messages per second from a DEALER that keeps at most window unacknowledged. */
static double router_dealer(long window, long n)
{
    void *ctx = zmq_ctx_new();
    void *router = zmq_socket(ctx, ZMQ_ROUTER), *dealer = zmq_socket(ctx, ZMQ_DEALER);
    char ep[64];
    size_t len = sizeof(ep);
    /* A ROUTER drops what it cannot queue: room for a whole window of acks. */
    int hwm = 100000;
    zmq_setsockopt(router, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(dealer, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_bind(router, "tcp://127.0.0.1:*");
    zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, ep, &len);
    zmq_connect(dealer, ep);
    struct sink s = {router, n};
    pthread_t thr;
    pthread_create(&thr, NULL, router_thread, &s);
    int64_t t0 = bench_now_us();
    long sent = 0, acked = 0;
    uint64_t ack;
    while (acked < n) {
        while (sent < n && sent - acked < window) {
            zmq_send(dealer, payload, payload_len, 0);
            sent++;
        }
        if (zmq_recv(dealer, &ack, sizeof(ack), 0) >= 0)
            acked++;
        while (acked < n && zmq_recv(dealer, &ack, sizeof(ack), ZMQ_DONTWAIT) >= 0)
            acked++;
    }
    double rate = (double)n / ((double)(bench_now_us() - t0) / 1e6);
    pthread_join(thr, NULL);
    zmq_close(dealer);
    zmq_close(router);
    zmq_ctx_term(ctx);
    return rate;
}

static MDB_env *lmdb_open(const char *path, MDB_dbi *dbi)
{
    MDB_env *env;
    MDB_txn *txn;
    mkdir(path, 0700);
    if (mdb_env_create(&env) != 0 || mdb_env_set_mapsize(env, (size_t)4 << 30) != 0 ||
        mdb_env_open(env, path, 0, 0600) != 0 || mdb_txn_begin(env, NULL, 0, &txn) != 0 ||
        mdb_dbi_open(txn, NULL, 0, dbi) != 0 || mdb_txn_commit(txn) != 0) {
        fprintf(stderr, "bench: lmdb open %s failed\n", path);
        exit(1);
    }
    return env;
}

/* Records per second appended under 8-byte big-endian keys, batch per txn, default sync. */
static double lmdb_append(const char *path, long batch)
{
    MDB_dbi dbi;
    MDB_env *env = lmdb_open(path, &dbi);
    int64_t t0 = bench_now_us();
    for (long i = 0; i < LMDB_N;) {
        MDB_txn *txn;
        if (mdb_txn_begin(env, NULL, 0, &txn) != 0)
            exit(1);
        for (long j = 0; j < batch && i < LMDB_N; j++, i++) {
            unsigned char key[8];
            for (int b = 0; b < 8; b++)
                key[b] = (unsigned char)((uint64_t)(i + 1) >> (56 - 8 * b));
            MDB_val k = {8, key}, v = {payload_len, payload};
            if (mdb_put(txn, dbi, &k, &v, MDB_APPEND) != 0)
                exit(1);
        }
        if (mdb_txn_commit(txn) != 0)
            exit(1);
    }
    double rate = LMDB_N / ((double)(bench_now_us() - t0) / 1e6);
    mdb_env_close(env);
    return rate;
}

/* The floor under any durable latency: one small commit, in microseconds (median of n). */
static double lmdb_commit_us(const char *path, int n)
{
    MDB_dbi dbi;
    MDB_env *env = lmdb_open(path, &dbi);
    double us[1000];
    for (int i = 0; i < n && i < 1000; i++) {
        MDB_txn *txn;
        unsigned char key[8] = {0, 0, 0, 0, 0, 0, (unsigned char)(i >> 8), (unsigned char)i};
        MDB_val k = {8, key}, v = {payload_len, payload};
        int64_t t0 = bench_now_us();
        if (mdb_txn_begin(env, NULL, 0, &txn) != 0 || mdb_put(txn, dbi, &k, &v, MDB_APPEND) != 0 ||
            mdb_txn_commit(txn) != 0)
            exit(1);
        us[i] = (double)(bench_now_us() - t0);
    }
    mdb_env_close(env);
    return bench_median(us, n);
}

static bool key_is(const msgpack_object *k, const char *s)
{
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(s) &&
           memcmp(k->via.str.ptr, s, k->via.str.size) == 0;
}

/* Records per second read with a cursor and decoded with msgpack (one zone, reused). */
static double lmdb_scan(const char *path, double *check)
{
    MDB_dbi dbi;
    MDB_env *env = lmdb_open(path, &dbi);
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    msgpack_zone zone;
    msgpack_zone_init(&zone, 2048);
    long n = 0;
    double sum = 0;
    int64_t t0 = bench_now_us();
    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    mdb_cursor_open(txn, dbi, &cur);
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        msgpack_object obj;
        size_t off = 0;
        if (msgpack_unpack(v.mv_data, v.mv_size, &off, &zone, &obj) != MSGPACK_UNPACK_SUCCESS ||
            obj.type != MSGPACK_OBJECT_MAP)
            exit(1);
        /* Pull out the fields a consumer needs, as a real reader would. */
        char district[16] = "", element[16] = "";
        for (uint32_t i = 0; i < obj.via.map.size; i++) {
            const msgpack_object_kv *kv = &obj.via.map.ptr[i];
            if (key_is(&kv->key, "v") && kv->val.type == MSGPACK_OBJECT_FLOAT64)
                sum += kv->val.via.f64;
            else if (key_is(&kv->key, "d") && kv->val.via.str.size < sizeof(district))
                memcpy(district, kv->val.via.str.ptr, kv->val.via.str.size);
            else if (key_is(&kv->key, "e") && kv->val.via.str.size < sizeof(element))
                memcpy(element, kv->val.via.str.ptr, kv->val.via.str.size);
        }
        sum += district[0] + element[0];
        msgpack_zone_clear(&zone);
        n++;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    double rate = (double)n / ((double)(bench_now_us() - t0) / 1e6);
    msgpack_zone_destroy(&zone);
    mdb_env_close(env);
    *check = sum;
    return rate;
}

int main(int argc, char **argv)
{
    int reps = bench_setup(argc, argv, 1, dir);
    payload_len = bench_sample_update(payload, sizeof(payload));
    printf("baselines: %zu-byte update (msgpack), tcp loopback, LMDB default sync\n", payload_len);
    double pp[BENCH_REPS_MAX], w1[BENCH_REPS_MAX], w64[BENCH_REPS_MAX], w1k[BENCH_REPS_MAX];
    double a1k[BENCH_REPS_MAX], a4k[BENCH_REPS_MAX], scan[BENCH_REPS_MAX], check = 0;
    double commit[BENCH_REPS_MAX];
    for (int r = 0; r < reps; r++) {
        char path[96];
        pp[r] = push_pull();
        w1[r] = router_dealer(1, 20000);
        w64[r] = router_dealer(64, 500000);
        w1k[r] = router_dealer(1024, 1000000);
        snprintf(path, sizeof(path), "%s/c-%d", dir, r);
        commit[r] = lmdb_commit_us(path, 500);
        pw_rm_rf(path);
        snprintf(path, sizeof(path), "%s/a1k-%d", dir, r);
        a1k[r] = lmdb_append(path, 1024);
        pw_rm_rf(path);
        snprintf(path, sizeof(path), "%s/a4k-%d", dir, r);
        a4k[r] = lmdb_append(path, 4096);
        scan[r] = lmdb_scan(path, &check);
        pw_rm_rf(path);
        printf("  repetition %d done\n", r + 1);
        fflush(stdout);
    }
    printf("%-50s %12s %-6s\n", "", "median", "");
    bench_report("zmq PUSH->PULL tcp", pp, reps, "msg/s");
    bench_report("zmq ROUTER/DEALER + ack, window 1", w1, reps, "msg/s");
    bench_report("zmq ROUTER/DEALER + ack, window 64", w64, reps, "msg/s");
    bench_report("zmq ROUTER/DEALER + ack, window 1024", w1k, reps, "msg/s");
    bench_report("lmdb append, batch 1024, durable", a1k, reps, "rec/s");
    bench_report("lmdb append, batch 4096, durable", a4k, reps, "rec/s");
    bench_report("lmdb cursor scan + msgpack decode", scan, reps, "rec/s");
    bench_report("lmdb one-record commit, durable (median)", commit, reps, "us");
    if (check < 0)
        printf("(checksum %f)\n", check);
    pw_rm_rf(dir);
    return 0;
}
