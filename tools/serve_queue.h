/* fer-serve's workers: a fixed set of threads, each with its own context (its
 * fer_analyzer: an analyzer is not thread-safe), taking jobs from one bounded
 * queue in arrival order. */
#ifndef FER_SERVE_QUEUE_H
#define FER_SERVE_QUEUE_H

#include <stddef.h>

typedef struct serve_queue serve_queue;

/* Called on a worker thread with that worker's context and the job. */
typedef void (*serve_job_fn)(void *worker, void *job);

/* n threads, thread i running jobs with workers[i]; at most cap jobs wait
 * for a thread. 0 (with errno) when a thread cannot be started. */
int serve_queue_new(int n, void *const *workers, size_t cap, serve_job_fn run, serve_queue **out);
/* 0 when cap jobs are already waiting (the caller answers "busy"). */
int serve_queue_push(serve_queue *q, void *job);
size_t serve_queue_waiting(serve_queue *q);
/* From now on push refuses jobs; runs the jobs still waiting and joins the threads. */
void serve_queue_stop(serve_queue *q);
/* serve_queue_stop, then frees q (NULL accepted). */
void serve_queue_free(serve_queue *q);

#endif
