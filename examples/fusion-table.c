/* Prints the heart-rate arousal curve and the fused label of every emotion
 * at a few heart rates and face confidences: the tables of
 * docs/heart-and-fusion.md come from this program.
 *   cc -Ilibfer examples/fusion-table.c build/libfer.a \
 *      $(pkg-config --libs stb libcjson libcurl libxml-2.0) -lm -pthread -o fusion-table */
#include <fer.h>
#include <stdio.h>

static const double rates[] = {50, 60, 70, 80, 90, 100, 110, 120, 140};
enum { N_RATES = sizeof rates / sizeof rates[0] };

static void arousal_curve(void)
{
    const fer_hr_opts opts[] = {{0, 0}, {.age = 3}, {.age = 10}, {.resting_bpm = 55}};
    printf("| bpm | adult level | adult | age 3 | age 10 | resting 55 |\n|---|---|---|---|---|---|\n");
    for (int i = 0; i < N_RATES; i++) {
        fer_heart h[4];
        for (int k = 0; k < 4; k++)
            fer_heart_from_bpm(rates[i], &opts[k], &h[k], NULL);
        printf("| %g | %s | %.3f | %.3f | %.3f | %.3f |\n", rates[i], fer_hr_level_name(h[0].level),
               h[0].arousal, h[1].arousal, h[2].arousal, h[3].arousal);
    }
}

/* The emotion with probability conf, the rest spread evenly over the others. */
static void labels(double conf)
{
    const double bpm[] = {0, 55, 80, 100, 125};
    printf("\nface confidence %.2f:\n\n| emotion | no heart | 55 bpm | 80 bpm | 100 bpm | "
           "125 bpm |\n|---|---|---|---|---|---|\n", conf);
    for (int e = 0; e < FER_N_EMOTIONS; e++) {
        float p[FER_N_EMOTIONS];
        for (int i = 0; i < FER_N_EMOTIONS; i++)
            p[i] = i == e ? (float)conf : (float)((1 - conf) / (FER_N_EMOTIONS - 1));
        printf("| %s |", fer_emotion_names[e]);
        for (int j = 0; j < 5; j++) {
            fer_heart h;
            fer_state s;
            if (bpm[j] > 0)
                fer_heart_from_bpm(bpm[j], NULL, &h, NULL);
            if (fer_fuse(p, bpm[j] > 0 ? &h : NULL, NULL, &s, NULL) == FER_OK)
                printf(" %s (%.2f) |", s.label, s.arousal);
        }
        printf("\n");
    }
}

int main(void)
{
    arousal_curve();
    labels(1.0);
    labels(0.55);
    labels(0.4);
    return 0;
}
