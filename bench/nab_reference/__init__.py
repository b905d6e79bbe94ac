"""Detectors whose whole-NAB score is published, rebuilt here to calibrate our corpora against NAB's scoreboard.

WHY: the whole NAB corpus is scored outside this repository, so every detection round is judged on proxies
(a synthetic corpus, half of the seven shared series, a blind corpus). A proxy is only as good as its agreement
with NAB: the synthetic corpus once ranked our previous detector above the windowed Gaussian, and NAB ranked it
below. Detectors with published NAB scores (NAB's scoreboard: random 11, Bayesian changepoint 17.7, Etsy Skyline
35.7, windowed Gaussian 39.6, relative entropy 54.6, KNN-CAD 58.0, CAD OSE 69.9), replayed on the proxies, say how
far each proxy ranks detectors as NAB does, and map a proxy score to a predicted NAB score with an error bar
(`bench/nab_calibration.py`).

These are benchmark references, not engine detectors: each is our own code, written from NAB's published detector
(numenta/NAB, nab/detectors/...) and checked reading by reading against it, with NAB's own inputs. Like NAB, they
get the file's minimum and maximum and the length of the probationary period up front (NAB's
`AnomalyDetector.__init__`): lookahead that our causal detector never has.

Each module exposes
    NAME: str                the scoreboard's name
    PUBLISHED: float         the scoreboard's standard-profile score on the whole corpus
    def scores(values, timestamps, input_min, input_max, probation) -> numpy.ndarray
where `values` and `timestamps` (seconds since the epoch) are float64 arrays of one series in order, and the
result holds one anomaly score per reading, each depending only on that reading and the ones before it (plus
the three givens).
"""
