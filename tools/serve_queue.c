/* The worker threads and their job queue (serve_queue.h): a ring of job
 * pointers under one mutex; workers sleep on a condition variable. */
#include "serve_queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct serve_queue {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    void **ring;
    size_t cap, head, count;
    int stopping;
    serve_job_fn run;
    int n_threads, joined;
    pthread_t *threads;
    struct worker_arg { serve_queue *q; void *ctx; } *args;
};

/* The next job, or NULL once the queue is stopping and empty. */
static void *take(serve_queue *q)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == 0 && !q->stopping)
        pthread_cond_wait(&q->ready, &q->lock);
    void *job = NULL;
    if (q->count > 0) {
        job = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
    pthread_mutex_unlock(&q->lock);
    return job;
}

static void *worker_main(void *p)
{
    struct worker_arg *a = p;
    for (void *job; (job = take(a->q));)
        a->q->run(a->ctx, job);
    return NULL;
}

/* Wakes the threads to finish the queue and joins the first n of them. */
static void stop_threads(serve_queue *q, int n)
{
    pthread_mutex_lock(&q->lock);
    q->stopping = 1;
    pthread_cond_broadcast(&q->ready);
    pthread_mutex_unlock(&q->lock);
    for (int i = 0; i < n; i++)
        pthread_join(q->threads[i], NULL);
}

static void release(serve_queue *q)
{
    pthread_cond_destroy(&q->ready);
    pthread_mutex_destroy(&q->lock);
    free(q->ring);
    free(q->threads);
    free(q->args);
    free(q);
}

int serve_queue_new(int n, void *const *workers, size_t cap, serve_job_fn run, serve_queue **out)
{
    serve_queue *q = calloc(1, sizeof *q);
    *out = NULL;
    if (!q)
        return errno = ENOMEM, 0;
    q->cap = cap ? cap : 1;
    q->run = run;
    q->ring = calloc(q->cap, sizeof *q->ring);
    q->threads = calloc((size_t)n, sizeof *q->threads);
    q->args = calloc((size_t)n, sizeof *q->args);
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->ready, NULL);
    if (!q->ring || !q->threads || !q->args) {
        release(q);
        return errno = ENOMEM, 0;
    }
    for (q->n_threads = 0; q->n_threads < n; q->n_threads++) {
        q->args[q->n_threads] = (struct worker_arg){q, workers[q->n_threads]};
        int e = pthread_create(&q->threads[q->n_threads], NULL, worker_main, &q->args[q->n_threads]);
        if (e) {
            stop_threads(q, q->n_threads);
            release(q);
            return errno = e, 0;
        }
    }
    *out = q;
    return 1;
}

int serve_queue_push(serve_queue *q, void *job)
{
    pthread_mutex_lock(&q->lock);
    int ok = q->count < q->cap && !q->stopping;
    if (ok) {
        q->ring[(q->head + q->count) % q->cap] = job;
        q->count++;
        pthread_cond_signal(&q->ready);
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

size_t serve_queue_waiting(serve_queue *q)
{
    pthread_mutex_lock(&q->lock);
    size_t n = q->count;
    pthread_mutex_unlock(&q->lock);
    return n;
}

void serve_queue_stop(serve_queue *q)
{
    if (!q->joined)
        stop_threads(q, q->n_threads);
    q->joined = 1;
}

void serve_queue_free(serve_queue *q)
{
    if (!q)
        return;
    serve_queue_stop(q);
    release(q);
}
