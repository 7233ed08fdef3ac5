"""EM-MIL (Luo et al., ECCV 2020): pseudo-labels, schedule, fusion, inference score, ablations."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from wsal.config import load_run_config
from wsal.data.temporal import TemporalBatch
from wsal.errors import ConfigError
from wsal.methods.base import TemporalOutput
from wsal.methods.em_mil import (
    EMMIL,
    PhaseNotSetError,
    _AttentionMILClassifier,
    e_step_labels,
    em_lr_scale,
    em_phase,
    init_labels,
    localization_score,
    m_step_labels,
    relative_threshold_mask,
    video_classifier_loss,
)

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs" / "em_mil"


@pytest.fixture
def registered(monkeypatch):
    """METHODS with em_mil registered (the table itself is owned elsewhere)."""
    from wsal.methods import METHODS

    monkeypatch.setitem(METHODS, "em_mil", EMMIL)
    return METHODS


def _batch(feats: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor) -> TemporalBatch:
    b, t = mask.shape
    idx = torch.arange(t).expand(b, t).masked_fill(~mask, -1)
    return TemporalBatch(feats * mask.unsqueeze(-1), mask, labels.float(), idx, torch.arange(b))


def _random_batch(lengths: list[int], d: int = 12, c: int = 4, seed: int = 0) -> TemporalBatch:
    g = torch.Generator().manual_seed(seed)
    t = max(lengths)
    mask = torch.arange(t).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    labels = torch.zeros(len(lengths), c)
    labels[torch.arange(len(lengths)), torch.randint(c, (len(lengths),), generator=g)] = 1
    return _batch(torch.randn(len(lengths), t, d, generator=g), mask, labels)


# ---- E step (Eq. 3) -------------------------------------------------------------------------


def test_e_step_labels_hand_computed():
    # video 0: 4 real snippets + 1 padding; classes 0 and 2 present.
    # class 0 P = [.9, .1, .2, .4] mean .4 -> above: t0;  class 2 P = [.1, .1, .8, .2] mean .3 -> t2
    # class 1 (absent) is high at t3 but never counts; padding (t4, P = .99) never positive.
    p = torch.zeros(2, 5, 3)
    p[0, :, 0] = torch.tensor([0.9, 0.1, 0.2, 0.4, 0.99])
    p[0, :, 1] = torch.tensor([0.0, 0.0, 0.0, 0.9, 0.99])
    p[0, :, 2] = torch.tensor([0.1, 0.1, 0.8, 0.2, 0.99])
    # video 1: negative (no labels): all zero whatever P is.
    p[1] = torch.rand(5, 3)
    mask = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    y = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    z = e_step_labels(p, y, mask)
    assert z.tolist() == [[1, 0, 1, 0, 0], [0, 0, 0, 0, 0]]


def test_e_step_strictly_above_mean_and_single_snippet():
    # equal to the mean is not above; a single-snippet video has nothing above its mean
    p = torch.tensor([[[0.5], [0.5], [0.5]], [[0.7], [0.0], [0.0]]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]], dtype=torch.bool)
    z = e_step_labels(p, torch.ones(2, 1), mask)
    assert z.tolist() == [[0, 0, 0], [0, 0, 0]]


# ---- M step (Eq. 5) and initialization --------------------------------------------------------


def test_m_step_labels_hand_computed_and_gamma():
    # Q = [.1, .9, .5, .3] (+ padding .95): mean .45, range .8
    # gamma 0    -> thr .45 -> t1, t2
    # gamma .15  -> thr .57 -> t1 only
    q = torch.tensor([[0.1, 0.9, 0.5, 0.3, 0.95]])
    mask = torch.tensor([[1, 1, 1, 1, 0]], dtype=torch.bool)
    y = torch.tensor([[0.0, 1.0, 1.0]])
    y0 = m_step_labels(q, y, mask, gamma=0.0)
    y15 = m_step_labels(q, y, mask, gamma=0.15)
    assert y0[0, :, 1].tolist() == [0, 1, 1, 0, 0] and y0[0, :, 2].tolist() == [0, 1, 1, 0, 0]
    assert y15[0, :, 1].tolist() == [0, 1, 0, 0, 0]
    assert y0[0, :, 0].sum() == 0 and y15[0, :, 0].sum() == 0  # class not in the video


def test_m_step_negative_video_and_all_padding_row():
    q = torch.tensor([[0.1, 0.9, 0.2], [0.3, 0.3, 0.3]])
    mask = torch.tensor([[1, 1, 1], [0, 0, 0]], dtype=torch.bool)
    y = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    out = m_step_labels(q, y, mask, gamma=0.15)
    assert out.sum() == 0 and torch.isfinite(out).all()


def test_init_labels_all_snippets_of_positive_videos():
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.bool)
    y = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    lab = init_labels(y, mask)
    assert lab[0, :, 0].tolist() == [1, 1, 0] and lab[0, :, 1].sum() == 0 and lab[1].sum() == 0


def test_relative_threshold_per_class_uses_real_snippets_only():
    x = torch.tensor([[[0.0, 1.0], [1.0, 1.0], [5.0, 5.0]]])  # (1, 3, 2), last snippet padding
    mask = torch.tensor([[1, 1, 0]], dtype=torch.bool)
    assert relative_threshold_mask(x, mask, 0.0)[0].tolist() == [
        [False, False],
        [True, False],
        [False, False],
    ]


# ---- schedule (Sec. 4.1) --------------------------------------------------------------------


def _thumos_expected(epoch: int) -> tuple[str, float]:
    if epoch < 10:
        return "init", 1.0
    if epoch < 20:
        return "E", 1.0
    if epoch < 30:
        return "M", 1.0
    return ("E" if (epoch - 30) % 2 == 0 else "M"), 4.0


def test_thumos14_schedule_matches_paper():
    model = EMMIL(feature_dim=12, num_classes=3)  # defaults = THUMOS14
    for epoch in range(65):
        hooks = model.on_epoch_start(epoch, total_epochs=65)
        assert (model.phase_, hooks["lr_scale"]) == _thumos_expected(epoch), epoch
    assert sum(model.phase_at(e) in ("E", "M") for e in range(30, 65)) == 35


def test_activitynet_schedule_matches_paper():
    kw = {"switch_every": 5, "late_start": None, "late_lr_scale": 1.0}
    model = EMMIL(feature_dim=12, num_classes=3, gamma=0.0, fuse_lambda=0.3, **kw)
    expected = ["init"] * 5 + ["E"] * 5 + ["M"] * 5 + ["E"] * 5 + ["M"] * 5
    for epoch, phase in enumerate(expected):
        assert model.on_epoch_start(epoch, total_epochs=25) == {"lr_scale": 1.0}
        assert model.phase_ == phase
    assert em_phase(104, switch_every=5, late_start=None) == "M"  # block 20: even -> M
    assert em_phase(105, switch_every=5, late_start=None) == "E"  # block 21: odd -> E
    assert em_lr_scale(1000, late_start=None, late_lr_scale=4.0) == 1.0


def test_joint_ablation_schedule():
    phases = [em_phase(e, train_mode="joint") for e in (0, 9, 10, 29, 30, 64)]
    assert phases == ["init", "init", "joint", "joint", "joint", "joint"]


def test_phase_is_a_function_of_the_epoch_only():
    fresh, used = EMMIL(feature_dim=12, num_classes=3), EMMIL(feature_dim=12, num_classes=3)
    for epoch in (5, 40, 3, 64, 12):
        used.on_epoch_start(epoch, total_epochs=65)
    for k in (0, 17, 25, 31, 32, 64):
        fresh_hooks = EMMIL(feature_dim=12, num_classes=3).on_epoch_start(k, total_epochs=65)
        assert used.on_epoch_start(k, total_epochs=65) == fresh_hooks
        fresh.on_epoch_start(k, total_epochs=65)
        assert used.phase_ == fresh.phase_ == _thumos_expected(k)[0]


def test_phase_is_saved_with_the_state_dict():
    a = EMMIL(feature_dim=12, num_classes=3)
    a.on_epoch_start(31, total_epochs=65)
    b = EMMIL(feature_dim=12, num_classes=3)
    b.load_state_dict(a.state_dict())
    assert b.phase_ == "M"


def test_reading_phase_before_on_epoch_start_fails_but_inference_works():
    model = EMMIL(feature_dim=12, num_classes=4)
    with pytest.raises(PhaseNotSetError, match="on_epoch_start"):
        _ = model.phase_
    batch = _random_batch([5, 3])
    losses = model.losses(batch, model(batch))
    assert torch.isfinite(losses["total"])
    assert torch.allclose(
        losses["total"], losses["e_step"] + losses["m_step"] + losses["video_cls"]
    )


# ---- which branch trains in each phase ------------------------------------------------------


def _grad_groups(model: EMMIL, batch: TemporalBatch) -> dict[str, bool]:
    model.zero_grad()
    model.losses(batch, model(batch))["total"].backward()

    def got(mod: torch.nn.Module) -> bool:
        return any(p.grad is not None and p.grad.abs().sum() > 0 for p in mod.parameters())

    return {"key": got(model.key), "cls": got(model.cls), "video": got(model.video_classifier)}


@pytest.mark.parametrize(
    ("mode", "epoch", "expected"),
    [
        ("em", 0, {"key": False, "cls": True, "video": True}),
        ("em", 10, {"key": True, "cls": False, "video": True}),
        ("em", 20, {"key": False, "cls": True, "video": True}),
        ("em", 30, {"key": True, "cls": False, "video": False}),  # lr x4: video head frozen
        ("em", 31, {"key": False, "cls": True, "video": False}),
        ("joint", 15, {"key": True, "cls": True, "video": True}),
        ("attention", 0, {"key": False, "cls": True, "video": True}),
        ("attention", 10, {"key": True, "cls": False, "video": True}),
        ("attention", 20, {"key": False, "cls": True, "video": True}),
    ],
)
def test_only_the_phase_branch_learns(mode, epoch, expected):
    torch.manual_seed(0)
    model = EMMIL(feature_dim=12, num_classes=4, train_mode=mode)
    model.on_epoch_start(epoch, total_epochs=65)
    assert _grad_groups(model, _random_batch([9, 14, 6])) == expected


def test_init_phase_targets_every_snippet_of_positive_videos():
    torch.manual_seed(0)
    model = EMMIL(feature_dim=4, num_classes=2, stream_dims=(4,))
    model.on_epoch_start(0, total_epochs=65)
    batch = _random_batch([3, 2], d=4, c=2)
    out = model(batch)
    target = init_labels(batch.video_labels, batch.mask)
    logits = out.extras["p_logits"][0]
    bce = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, target, reduction="none"
    ).sum(-1)
    expected = ((bce * batch.mask).sum(1) / batch.mask.sum(1)).mean()
    torch.testing.assert_close(model.losses(batch, out)["m_step"], expected)


# ---- streams, fusion, inference score (Sec. 3.5, 4.1, Eq. 9) --------------------------------


def test_stream_split_and_fusion_weights():
    torch.manual_seed(0)
    model = EMMIL(feature_dim=10, num_classes=3, stream_dims=(6, 4), stream_weights=(3.0, 1.0))
    torch.testing.assert_close(model.stream_weights, torch.tensor([0.75, 0.25]))
    batch = _random_batch([5, 7], d=10, c=3)
    out = model(batch)
    q = torch.sigmoid(out.extras["q_logits"])
    p = torch.sigmoid(out.extras["p_logits"])
    m = batch.mask.float()
    torch.testing.assert_close(out.actionness, (0.75 * q[0] + 0.25 * q[1]) * m)
    torch.testing.assert_close(out.cas, (0.75 * p[0] + 0.25 * p[1]) * m.unsqueeze(-1))
    # the rgb branch sees only the first 6 dims: changing flow dims leaves its logits unchanged
    batch.feats[..., 6:] += 1.0
    out2 = model(batch)
    torch.testing.assert_close(out2.extras["q_logits"][0], out.extras["q_logits"][0])
    assert not torch.allclose(out2.extras["q_logits"][1], out.extras["q_logits"][1])


def test_default_split_is_two_halves_and_one_stream_works():
    assert EMMIL(feature_dim=12, num_classes=2).stream_dims == (6, 6)
    single = EMMIL(feature_dim=7, num_classes=2, stream_dims=(7,))
    batch = _random_batch([4, 2], d=7, c=2)
    out = single(batch)
    assert out.extras["q_logits"].shape == (1, 2, 4)
    assert torch.isfinite(single.losses(batch, out)["total"])
    with pytest.raises(ConfigError, match="odd"):
        EMMIL(feature_dim=7, num_classes=2)
    with pytest.raises(ConfigError, match="sum"):
        EMMIL(feature_dim=12, num_classes=2, stream_dims=(6, 5))
    with pytest.raises(ConfigError, match="stream_weights"):
        EMMIL(feature_dim=12, num_classes=2, stream_weights=(1.0,))


def test_localization_score_eq9_and_threshold():
    q = torch.tensor([[0.2, 1.0, 0.6, 0.0]])
    p = torch.tensor([[[1.0], [0.0], [0.5], [0.0]]])
    score = localization_score(q, p, 0.8)
    torch.testing.assert_close(score[0, :, 0], torch.tensor([0.36, 0.8, 0.58, 0.0]))
    model = EMMIL(feature_dim=12, num_classes=1)  # lambda 0.8, gamma 0.15
    out = TemporalOutput(cas=p, video_scores=torch.ones(1, 1), actionness=q)
    torch.testing.assert_close(model.localization_scores(out), score)
    # L = [.36, .8, .58, 0]: mean .435, range .8 -> thr .555 -> t1, t2
    kept = model.localization_mask(out, torch.ones(1, 4, dtype=torch.bool))
    assert kept[0, :, 0].tolist() == [False, True, True, False]


def test_video_classifier_is_independent_of_em_branches():
    torch.manual_seed(0)
    model = EMMIL(feature_dim=12, num_classes=4).eval()  # the video head has dropout
    batch = _random_batch([8, 5])
    before = model(batch).video_scores
    with torch.no_grad():
        for p in [*model.key.parameters(), *model.cls.parameters()]:
            p.add_(1.0)
    torch.testing.assert_close(model(batch).video_scores, before)
    torch.testing.assert_close(before.sum(-1), torch.ones(2))  # soft attention x softmax classes
    out = model.train()(batch)
    _AttentionMILClassifier.loss(
        out.extras["video_log_probs"], batch.video_labels, batch.mask
    ).backward()
    assert all(p.grad is None for p in [*model.key.parameters(), *model.cls.parameters()])
    assert all(p.grad is not None for p in model.video_classifier.parameters())


def test_topk_video_classifier_by_hand_and_independent():
    torch.manual_seed(0)
    model = EMMIL(feature_dim=12, num_classes=3, video_classifier="topk").eval()
    batch = _random_batch([9, 4], c=3)
    out = model(batch)
    head, parts = model.video_classifier, torch.split(batch.feats, [6, 6], dim=-1)
    expected = []
    for b, n in enumerate([9, 4]):
        k = -(-n // 8)  # ceil(T / 8): 2 and 1
        per_stream = [
            cls(trunk(x[b : b + 1, :n]))[0].topk(k, dim=0).values.mean(0)
            for x, trunk, cls in zip(parts, head.trunk, head.classifier, strict=True)
        ]
        expected.append(torch.log_softmax(0.5 * per_stream[0] + 0.5 * per_stream[1], dim=-1))
    torch.testing.assert_close(out.extras["video_log_probs"], torch.stack(expected))
    torch.testing.assert_close(out.video_logits, out.extras["video_log_probs"])
    torch.testing.assert_close(out.video_scores.sum(-1), torch.ones(2))
    model.train()
    out = model(batch)
    model.losses(batch, out)["total"].backward()  # no phase: every term trains
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad(set_to_none=True)
    out = model(batch)
    video_classifier_loss(out.extras["video_log_probs"], batch.video_labels, batch.mask).backward()
    assert all(p.grad is None for p in [*model.key.parameters(), *model.cls.parameters()])
    with pytest.raises(ConfigError, match="video_classifier"):
        EMMIL(feature_dim=12, num_classes=2, video_classifier="other")


def test_padding_does_not_change_scores():
    torch.manual_seed(0)
    model = EMMIL(feature_dim=12, num_classes=3).eval()
    short = _random_batch([6], c=3)
    t = 6
    padded = TemporalBatch(
        torch.cat([short.feats, torch.zeros(1, 4, 12)], 1),
        torch.cat([short.mask, torch.zeros(1, 4, dtype=torch.bool)], 1),
        short.video_labels,
        torch.cat([short.snippet_index, torch.full((1, 4), -1)], 1),
        short.video_index,
    )
    a, b = model(short), model(padded)
    torch.testing.assert_close(a.cas, b.cas[:, :t])
    torch.testing.assert_close(a.actionness, b.actionness[:, :t])
    torch.testing.assert_close(a.video_scores, b.video_scores)
    assert b.cas[:, t:].abs().sum() == 0 and b.actionness[:, t:].abs().sum() == 0


def test_logit_outputs_are_fused_p_logits_and_video_log_probs():
    torch.manual_seed(0)
    model = EMMIL(feature_dim=12, num_classes=3, stream_weights=(3.0, 1.0)).eval()
    batch = _random_batch([7, 4], c=3)
    out = model(batch)
    p_logits, m = out.extras["p_logits"], batch.mask.unsqueeze(-1)
    torch.testing.assert_close(out.logits, (0.75 * p_logits[0] + 0.25 * p_logits[1]) * m)
    assert out.logits[1, 4:].abs().sum() == 0
    torch.testing.assert_close(out.video_logits, out.video_scores.log())
    one = EMMIL(feature_dim=12, num_classes=3, stream_dims=(12,)).eval()
    o = one(batch)  # one stream: the CAS is exactly the sigmoid of the logits
    torch.testing.assert_close(torch.sigmoid(o.logits) * m, o.cas)


def test_em_mil_logit_preset_by_hand():
    from wsal.localize.temporal import PRESETS, localize_video
    from wsal.structures import SnippetTiming

    logits = np.array([[-2.0, 3.0, 4.0, -1.0, 3.0, -3.0]]).T  # min -3, max 4 -> thr 0.5
    seg = localize_video(
        np.zeros_like(logits),
        timing=SnippetTiming(frames_per_snippet=16, fps=16.0),
        config=PRESETS["em_mil_logit"],
        logits=logits,
        video_logits=np.array([-0.5]),
    )
    # runs strictly above 0.5: [1, 3) and [4, 5); the single snippet is dropped (>= 2)
    np.testing.assert_allclose(seg.bounds, [[1.0, 3.0]])
    np.testing.assert_allclose(seg.scores, [4.0 + 0.7 * -0.5])


def _authors_test_runs(key: np.ndarray, cls: np.ndarray, pred: np.ndarray) -> set[tuple]:
    """A transcription of the authors' test.py loop (proposal bounds and classes only):
    per class with pred >= 0.15, score = 0.8 k + 0.8 c, (score - mean) / (max - min) > 0.05,
    runs of consecutive clips closed by the first clip at or below it."""
    runs = set()
    for i in range(cls.shape[1]):
        if pred[i] < 0.15:
            continue
        score = 0.8 * key + 0.8 * cls[:, i]
        score = (score - score.mean()) / (score.max() - score.min())
        start, open_ = 0, False
        for j, a in enumerate(score):
            if a > 0.05 and not open_:
                open_, start = True, j
            elif a <= 0.05 and open_:
                runs.add((start, j, i))
                open_ = False
    return runs


def test_em_mil_code_preset_matches_the_authors_test_loop():
    from wsal.localize.temporal import PRESETS, localize_video
    from wsal.structures import SnippetTiming

    rng = np.random.default_rng(0)
    t = 40
    key = np.clip(np.sin(np.arange(t) / 4.0) + 0.3 * rng.random(t), 0, 1)
    cls = rng.random((t, 3))
    key[-3:], cls[-3:] = 0.0, 0.0  # no run reaches the end (test.py drops those)
    pred = np.array([0.6, 0.1, 0.3])
    seg = localize_video(
        cls,
        timing=SnippetTiming(frames_per_snippet=16, fps=16.0),
        config=PRESETS["em_mil_code"],
        actionness=key,
        video_scores=pred,
    )
    ours = {(int(b[0]), int(b[1]), int(c)) for b, c in zip(seg.bounds, seg.labels, strict=True)}
    expected = _authors_test_runs(key, cls, pred)
    assert expected and ours == expected


# ---- ablations and degenerate inputs --------------------------------------------------------


@pytest.mark.parametrize("mode", ["em", "joint", "attention"])
@pytest.mark.parametrize("epoch", [0, 10, 20, 31, 64])
def test_every_mode_and_phase_gives_finite_losses(mode, epoch):
    torch.manual_seed(0)
    model = EMMIL(feature_dim=12, num_classes=4, train_mode=mode)
    model.on_epoch_start(epoch, total_epochs=65)
    batch = _random_batch([7, 1, 12])
    batch.mask[1] = False  # an all-padding row next to real ones
    batch.feats[1] = 0
    losses = model.losses(batch, model(batch))
    assert all(torch.isfinite(v) for v in losses.values())
    losses["total"].backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())


def test_all_padding_batch_gives_zero_finite_losses():
    model = EMMIL(feature_dim=12, num_classes=4)
    model.on_epoch_start(10, total_epochs=65)
    batch = _random_batch([3, 3])
    batch.mask[:] = False
    batch.feats[:] = 0
    losses = model.losses(batch, model(batch))
    assert all(torch.isfinite(v) and v == 0 for v in losses.values())


def test_invalid_arguments():
    with pytest.raises(ConfigError, match="kernel_size"):
        EMMIL(feature_dim=12, num_classes=2, kernel_size=2)
    with pytest.raises(ConfigError, match="train_mode"):
        EMMIL(feature_dim=12, num_classes=2, train_mode="other")
    with pytest.raises(ValueError, match="epoch"):
        em_phase(-1)


# ---- configs and the generic contract -------------------------------------------------------


@pytest.mark.parametrize("name", ["thumos14", "activitynet12", "synthetic"])
def test_configs_load_and_agree_with_the_localizer(registered, name):
    cfg = load_run_config(CONFIGS / f"{name}.yaml")
    assert cfg.method == "em_mil" and isinstance(cfg.model, EMMIL.Config)
    over = cfg.localize.overrides
    assert over.get("fuse_lambda", 0.8) == cfg.model.fuse_lambda
    assert tuple(over.get("thresholds", (0.15,))) == (cfg.model.gamma,)


def test_paper_values_in_configs(registered):
    thumos = load_run_config(CONFIGS / "thumos14.yaml")
    anet = load_run_config(CONFIGS / "activitynet12.yaml")
    t, a = thumos.model, anet.model
    assert (thumos.train.epochs, thumos.eval.tiou, thumos.localize.preset) == (
        65,
        "thumos14",
        "em_mil_logit",  # wsal's localizer (chosen on validation); the paper's is "em_mil"
    )
    assert (t.gamma, t.fuse_lambda, t.switch_every, t.late_start, t.late_lr_scale) == (
        0.15,
        0.8,
        10,
        30,
        4.0,
    )
    assert (a.gamma, a.fuse_lambda, a.switch_every, a.late_start, a.late_lr_scale) == (
        0.0,
        0.3,
        5,
        None,
        1.0,
    )
    assert anet.eval.tiou == "activitynet"


def _load_contract():
    """The generic contract tests (tests/methods/test_contract.py), loaded by file path."""
    path = Path(__file__).with_name("test_contract.py")
    spec = importlib.util.spec_from_file_location("_em_mil_contract", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_contract = _load_contract()


@pytest.mark.parametrize(
    ("check", "kwargs"),
    [
        ("test_shapes_and_finite_losses", {}),
        ("test_every_parameter_receives_a_gradient", {}),
        ("test_eval_determinism", {}),
        ("test_one_class", {}),
        *[("test_degenerate_videos", {"lengths": n}) for n in ([1], [1, 1, 1], [5, 0], [0, 0])],
    ],
)
def test_generic_contract(registered, check, kwargs):
    getattr(_contract, check)("em_mil", **kwargs)
