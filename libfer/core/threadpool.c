/* A persistent pthread pool. The calling thread works as thread 0, so a
 * pool of one thread runs everything inline with no synchronisation. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/core.h"
#include "nn/gemm.h"

struct fer_pool {
    int threads;
    pthread_t *tid;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    unsigned long generation; /* bumped for each job */
    int pending;              /* workers still running the current job */
    int quit;
    /* the current job */
    fer_range_fn fn;
    void *arg;
    int n;
};

typedef struct worker_arg { fer_pool *p; int id; } worker_arg;

static void run_share(fer_pool *p, int t)
{
    int begin = (int)((long long)p->n * t / p->threads);
    int end = (int)((long long)p->n * (t + 1) / p->threads);
    if (begin < end)
        p->fn(p->arg, begin, end, t);
}

static void *worker_main(void *v)
{
    worker_arg *wa = v;
    fer_pool *p = wa->p;
    int id = wa->id;
    free(wa);
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->generation == seen)
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->quit)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_share(p, id);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int fer_threads_default(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n > 256 ? 256 : n) : 1;
}

fer_status fer_pool_new(int threads, fer_pool **out, fer_error *err)
{
    *out = NULL;
    if (threads <= 0)
        threads = fer_threads_default();
    if (threads > 256)
        return fer_fail(err, FER_EINVAL, "threads: %d (1..256 allowed)", threads);
    fer_pool *p = calloc(1, sizeof *p);
    if (!p || !(p->tid = calloc((size_t)threads, sizeof *p->tid))) {
        free(p);
        return fer_fail(err, FER_ENOMEM, "thread pool: out of memory");
    }
    p->threads = 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int t = 1; t < threads; t++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (wa) {
            wa->p = p;
            wa->id = t;
        }
        if (!wa || pthread_create(&p->tid[t], NULL, worker_main, wa) != 0) {
            free(wa);
            fer_pool_free(p);
            return fer_fail(err, FER_ENOMEM, "thread pool: cannot start thread %d", t);
        }
        p->threads = t + 1;
    }
    *out = p;
    return FER_OK;
}

void fer_pool_free(fer_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int t = 1; t < p->threads; t++)
        pthread_join(p->tid[t], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->tid);
    free(p);
}

int fer_pool_threads(const fer_pool *p) { return p ? p->threads : 1; }

void fer_pool_for(fer_pool *p, int n, fer_range_fn fn, void *arg)
{
    if (n <= 0)
        return;
    if (!p || p->threads == 1) {
        fn(arg, 0, n, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->n = n;
    p->pending = p->threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_share(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
