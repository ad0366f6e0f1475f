/* fer-bench: one subcommand per file (bench_<mode>.c), each with a
 * main-like entry point taking the arguments after the mode name. */
#ifndef FER_BENCH_H
#define FER_BENCH_H

#include <time.h>

/* Seconds of this thread's CPU time (wall time: cli_now). */
static inline double bench_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* qsort order of doubles, for medians. */
static inline int bench_by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int bench_detect_main(int argc, char **argv);
int bench_faces_main(int argc, char **argv);
int bench_gemm_main(int argc, char **argv);
int bench_train_main(int argc, char **argv);
int bench_infer_main(int argc, char **argv);
int bench_layers_main(int argc, char **argv);
int bench_predict_main(int argc, char **argv);

#endif
