/* What the pdfium engine (processors/pdf/engines.py) asks pdfium for on every page, in one
 * call each instead of several calls per text run or page object: each call through
 * Python's ctypes costs 1.5 to 3.5 microseconds, more than pdfium's own work, and together
 * they were a third of the engine's time.
 *
 * - ``jc_pdfium_runs``: the text runs of a text page (``PdfiumPages._run_values``).
 * - ``jc_pdfium_drawn_objects``: which of a page's objects are not text, so that looking
 *   for ruling lines and images skips the text objects (``_object_bounds``).
 *
 * Only pdfium's numbers are read here; every decision on them (cleaning the text, leaving
 * out watermarks, making lines) stays in Python. The algorithms are the Python ones, step
 * by step (tests/processors/test_pdf_native.py compares the two on every page of the
 * corpus).
 *
 * pdfium's functions come as pointers from pypdfium2's own library (``jc_pdfium`` below),
 * so this file needs neither pdfium's headers nor linking against it. Built by
 * ``python -m processors.pdf.native``.
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef int (*count_rects_fn)(void *, int, int);
typedef int (*get_rect_fn)(void *, int, double *, double *, double *, double *);
typedef double (*font_size_fn)(void *, int);
typedef int (*font_weight_fn)(void *, int);
typedef int (*char_origin_fn)(void *, int, double *, double *);
typedef float (*char_angle_fn)(void *, int);
typedef unsigned long (*font_info_fn)(void *, int, void *, unsigned long, int *);
typedef struct {
    float a, b, c, d, e, f;
} Matrix; /* pdfium's FS_MATRIX */
typedef int (*char_matrix_fn)(void *, int, Matrix *);
typedef int (*count_objects_fn)(void *);
typedef void *(*get_object_fn)(void *, int);
typedef int (*object_type_fn)(void *);

typedef struct {
    count_rects_fn count_rects;
    get_rect_fn get_rect;
    font_size_fn font_size;
    font_weight_fn font_weight;
    char_origin_fn char_origin;
    char_angle_fn char_angle;
    font_info_fn font_info;
    count_objects_fn count_objects;
    get_object_fn get_object;
    object_type_fn object_type;
    char_matrix_fn char_matrix;
} Pdfium;

enum { FPDF_PAGEOBJ_TEXT = 1 };

/* Values written per run, in this order (engines.py reads them by these positions). */
enum {
    FIRST, LAST, LEFT, TOP, RIGHT, BOTTOM, SIZE, BOLD, HAS_ORIGIN, ORIGIN_Y, ANGLE, VALUES
};

static const char *const BOLD_MARKERS[] = {"bold", "black", "heavy", "semibold", "demi"};

/* engines._scaled: the font size as set, times the scale of the character's matrix (a
 * PDF may set 13.33 and scale the text by 0.75, as Chromium's do). */
static double scaled(const Pdfium *p, void *page, int index, double size) {
    Matrix m;
    if (size <= 0 || !p->char_matrix(page, index, &m)) return size;
    double area = fabs((double)m.a * m.d - (double)m.b * m.c);
    return area > 0 ? size * sqrt(area) : size;
}

/* engines._bold: by the font's weight; the standard fonts have none (0): by the name. */
static int bold(const Pdfium *p, void *page, int index, int weight) {
    if (weight > 0) return weight >= 600;
    int flags = 0;
    unsigned long size = p->font_info(page, index, NULL, 0, &flags);
    if (size == 0) return 0;
    char *name = malloc(size + 1);
    if (name == NULL) return 0;
    p->font_info(page, index, name, size, &flags);
    name[size] = '\0';
    for (char *c = name; *c; c++) {
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    }
    int found = 0;
    for (size_t m = 0; m < sizeof BOLD_MARKERS / sizeof *BOLD_MARKERS && !found; m++) {
        found = strstr(name, BOLD_MARKERS[m]) != NULL;
    }
    free(name);
    return found;
}

/* engines.PdfiumPages._run_bounds: where each of a line's runs starts (``firsts``,
 * ``rects`` + 1 entries, the last one ``end``). */
static void run_bounds(const Pdfium *p, void *page, const unsigned short *text, int start,
                       int end, int rects, int *firsts) {
    firsts[0] = start;
    for (int number = 1; number < rects; number++) {
        int low = firsts[number - 1] + 1, high = end;
        for (int i = start; i < end; i++) {
            if (text[i] != 0xFFFE && text[i] != 0x02) continue;
            int place = i + 1; /* right after pdfium's soft-hyphen mark */
            if (place < low) continue;
            int before = p->count_rects(page, start, place - start);
            if (before == number && p->count_rects(page, start, place - start + 1) > number) {
                low = high = place;
            } else if (before > number) {
                high = place;
            }
            break;
        }
        while (low < high) {
            int middle = (low + high) / 2;
            if (p->count_rects(page, start, middle - start + 1) > number) {
                high = middle;
            } else {
                low = middle + 1;
            }
        }
        firsts[number] = low;
    }
    firsts[rects] = end;
    p->count_rects(page, start, end - start);
}

/* The runs of ``text`` (the page's ``count`` UTF-16 units, one per character index, lines
 * ending in CR LF), VALUES doubles each, into ``out`` (room for ``capacity`` runs).
 * Returns the number of runs, or minus the number needed when ``out`` is too small
 * (nothing is then read beyond the count). */
int jc_pdfium_runs(const Pdfium *p, void *page, const unsigned short *text, int count,
                   double *out, int capacity) {
    int runs = 0;
    int start = 0;
    int *firsts = NULL;
    int room = 0;
    while (start < count) {
        int end = start;
        while (end < count && !(text[end] == '\r' && end + 1 < count && text[end + 1] == '\n')) {
            end++;
        }
        int rects = end > start ? p->count_rects(page, start, end - start) : 0;
        if (rects > 0) {
            if (rects + 1 > room) {
                room = rects + 1;
                int *grown = realloc(firsts, sizeof *firsts * (size_t)room);
                if (grown == NULL) {
                    free(firsts);
                    return 0;
                }
                firsts = grown;
            }
            if (rects == 1) {
                firsts[0] = start;
                firsts[1] = end;
            } else {
                run_bounds(p, page, text, start, end, rects, firsts);
            }
            for (int number = 0; number < rects; number++, runs++) {
                if (runs >= capacity) continue; /* counted, not written */
                double *run = out + (size_t)runs * VALUES;
                int first = firsts[number];
                double left = 0, top = 0, right = 0, bottom = 0, x = 0, y = 0;
                p->get_rect(page, number, &left, &top, &right, &bottom);
                run[FIRST] = first;
                run[LAST] = firsts[number + 1];
                run[LEFT] = left;
                run[TOP] = top;
                run[RIGHT] = right;
                run[BOTTOM] = bottom;
                run[SIZE] = scaled(p, page, first, p->font_size(page, first));
                run[BOLD] = bold(p, page, first, p->font_weight(page, first));
                run[HAS_ORIGIN] = p->char_origin(page, first, &x, &y) ? 1 : 0;
                run[ORIGIN_Y] = y;
                run[ANGLE] = p->char_angle(page, first);
            }
        }
        start = end + 2;
    }
    free(firsts);
    return runs <= capacity ? runs : -runs;
}

/* The indexes of the objects of ``page`` (an FPDF_PAGE) that are not text, into ``out``
 * (room for ``capacity``). Returns how many there are, or minus that number when ``out``
 * is too small. */
int jc_pdfium_drawn_objects(const Pdfium *p, void *page, int *out, int capacity) {
    int found = 0;
    int count = p->count_objects(page);
    for (int index = 0; index < count; index++) {
        void *object = p->get_object(page, index);
        if (object == NULL || p->object_type(object) == FPDF_PAGEOBJ_TEXT) continue;
        if (found < capacity) out[found] = index;
        found++;
    }
    return found <= capacity ? found : -found;
}
