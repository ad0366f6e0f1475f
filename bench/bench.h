/* fer-bench: one subcommand per file (bench_<mode>.c), each with a
 * main-like entry point taking the arguments after the mode name. */
#ifndef FER_BENCH_H
#define FER_BENCH_H

int bench_detect_main(int argc, char **argv);
int bench_faces_main(int argc, char **argv);
int bench_gemm_main(int argc, char **argv);
int bench_train_main(int argc, char **argv);
int bench_infer_main(int argc, char **argv);
int bench_layers_main(int argc, char **argv);
int bench_predict_main(int argc, char **argv);

#endif
