"""Per-metric detection settings: defaults without configuration, device over network, typos refused."""

import pydantic
import pytest

from twin.detectors import (DEFAULT_DETECTION, DetectorKind, MetricDetection, SequenceSurprise, make_detector,
                            resolve_detection)


def test_defaults_work_without_configuration() -> None:
    assert resolve_detection("temperature", None, None) is DEFAULT_DETECTION
    assert DEFAULT_DETECTION.detector is DetectorKind.sequence and DEFAULT_DETECTION.threshold == 0.75
    assert isinstance(make_detector(DEFAULT_DETECTION), SequenceSurprise)


def test_device_setting_wins_over_network_setting() -> None:
    net = {"temperature": MetricDetection(sensitivity=0.2)}
    dev = {"temperature": MetricDetection(detector="off")}
    assert resolve_detection("temperature", dev, net).detector is DetectorKind.off
    assert resolve_detection("temperature", None, net).threshold == pytest.approx(0.9)
    assert resolve_detection("humidity", dev, net) is DEFAULT_DETECTION


def test_off_makes_no_detector_and_sensitivity_moves_the_threshold() -> None:
    assert make_detector(MetricDetection(detector="off")) is None
    assert MetricDetection(sensitivity=1.0).threshold == 0.5
    assert MetricDetection(sensitivity=0.0).threshold == 1.0


def test_gaussian_choice_scores_rarity_not_raw_probability() -> None:
    det = make_detector(MetricDetection(detector="gaussian"))
    values = [10.0 + (i % 7) * 0.1 for i in range(400)]
    scores = [det.update(float(i), v) for i, v in enumerate(values)]
    assert max(scores[50:]) < 0.5  # ordinary values: not rare
    assert det.update(400.0, 50.0) > 0.9  # hundreds of sigmas out
    said = det.describe(50.0)  # type: ignore[union-attr]  # the alert's words for that reading
    assert said.startswith("50, ") and " standard deviations above the recent mean (10.3 ± 0.2" in said, said
    sigmas = float(said.split(", ")[1].split(" ")[0])
    assert sigmas > 100


def test_typos_and_out_of_range_values_are_refused() -> None:
    with pytest.raises(pydantic.ValidationError):
        MetricDetection(detecter="off")
    with pytest.raises(pydantic.ValidationError):
        MetricDetection(sensitivity=1.5)
    with pytest.raises(pydantic.ValidationError):
        MetricDetection(detector="magic")


def test_the_time_of_day_view_can_be_turned_off_per_metric() -> None:
    """A metric on local time whose cycle switches in steps alerts at each daylight-saving change with the view."""
    from tests.twin.detectors.test_det_sequence import DAY, STEP, _cycle_that_changes

    on = MetricDetection(sensitivity=1.0)
    off = MetricDetection.model_validate({"sensitivity": 1.0, "time_of_day": False})
    assert DEFAULT_DETECTION.time_of_day and on.time_of_day and not off.time_of_day
    # both time views go with it: the hour's extremes and the same hour on other days
    assert make_detector(off)._tod is None and make_detector(off)._same_hour is None  # type: ignore[union-attr]
    assert make_detector(on)._tod is not None and make_detector(on)._same_hour is not None  # type: ignore[union-attr]

    def loudest_after_the_change(settings: MetricDetection, seed: int) -> float:
        values, at = _cycle_that_changes(seed, "shrink")
        det = make_detector(settings)
        return max([det.update(i * STEP, v) for i, v in enumerate(values)][at:at + DAY])

    for seed in range(5):  # a cycle shrunk to a quarter: the view's catch (0.25-0.45 with it, 0.01-0.13 without)
        assert loudest_after_the_change(on, seed) > loudest_after_the_change(off, seed) + 0.1, seed
