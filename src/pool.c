/* A small fork-join thread pool: the caller thread works too, so a pool of
 * N threads has N-1 workers. */
#include "cfp_internal.h"

#include <pthread.h>
#include <stdlib.h>

struct cfp_pool {
    int threads;
    pthread_t *workers;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    /* current job */
    cfp_range_fn fn;
    void *arg;
    int64_t n, chunk, next;
    int active; /* workers still inside the job */
    unsigned generation;
    bool quit;
};

typedef struct {
    cfp_pool *p;
    int tid;
} worker_arg;

static void run_chunks(cfp_pool *p, int tid) {
    for (;;) {
        pthread_mutex_lock(&p->mu);
        int64_t b = p->next;
        p->next += p->chunk;
        pthread_mutex_unlock(&p->mu);
        if (b >= p->n) return;
        int64_t e = b + p->chunk < p->n ? b + p->chunk : p->n;
        p->fn(p->arg, b, e, tid);
    }
}

static void *worker_main(void *a) {
    worker_arg *wa = a;
    cfp_pool *p = wa->p;
    int tid = wa->tid;
    free(wa);
    unsigned seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->generation == seen) pthread_cond_wait(&p->start, &p->mu);
        if (p->quit) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_chunks(p, tid);
        pthread_mutex_lock(&p->mu);
        if (--p->active == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

cfp_pool *cfp_pool_new(int threads) {
    if (threads < 1) threads = 1;
    cfp_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    if (threads > 1) {
        p->workers = calloc((size_t)threads - 1, sizeof *p->workers);
        if (!p->workers) {
            free(p);
            return NULL;
        }
        for (int i = 1; i < threads; i++) {
            worker_arg *wa = malloc(sizeof *wa);
            if (!wa || pthread_create(&p->workers[i - 1], NULL, worker_main, wa ? (wa->p = p, wa->tid = i, wa) : NULL)) {
                free(wa);
                p->threads = i; /* run with what started */
                break;
            }
        }
    }
    return p;
}

void cfp_pool_free(cfp_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = true;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->threads; i++) pthread_join(p->workers[i - 1], NULL);
    free(p->workers);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p);
}

int cfp_pool_threads(const cfp_pool *p) { return p ? p->threads : 1; }

void cfp_parallel_for(cfp_pool *p, int64_t n, int64_t grain, cfp_range_fn fn, void *arg) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (!p || p->threads == 1 || n <= grain) {
        fn(arg, 0, n, 0);
        return;
    }
    /* a few chunks per thread balance uneven work without much locking */
    int64_t chunk = (n + (int64_t)p->threads * 4 - 1) / ((int64_t)p->threads * 4);
    if (chunk < grain) chunk = grain;
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->n = n;
    p->chunk = chunk;
    p->next = 0;
    p->active = p->threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    run_chunks(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->active > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
