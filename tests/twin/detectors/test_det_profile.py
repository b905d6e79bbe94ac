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


def test_typos_and_out_of_range_values_are_refused() -> None:
    with pytest.raises(pydantic.ValidationError):
        MetricDetection(detecter="off")
    with pytest.raises(pydantic.ValidationError):
        MetricDetection(sensitivity=1.5)
    with pytest.raises(pydantic.ValidationError):
        MetricDetection(detector="magic")
