"""The fast path computes the eager reference's function: same state_dict, same outputs and gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from isatsleepnet.model import ISATSleepNet, ModelConfig
from isatsleepnet.model.fast import FastDropout, FastLinear, FastMaxPool2, fuse_for_inference
from isatsleepnet.model.fftconv import FFTConv1d

from .helpers import calibrated, epochs, small_config


@pytest.fixture(scope="module")
def paper_pair() -> tuple[ISATSleepNet, ISATSleepNet]:
    torch.manual_seed(0)
    eager = calibrated(ISATSleepNet(ModelConfig(use_fast_conv=False)))
    return eager, eager.with_fast_conv(True).eval()


def test_state_dicts_are_interchangeable(paper_pair: tuple[ISATSleepNet, ISATSleepNet]) -> None:
    eager, fast = paper_pair
    a, b = eager.state_dict(), fast.state_dict()
    assert a.keys() == b.keys()
    assert all(a[k].shape == b[k].shape for k in a)
    assert sum(isinstance(m, FFTConv1d) for m in fast.modules()) == 6
    assert not any(isinstance(m, (FFTConv1d, FastLinear, FastDropout)) for m in eager.modules())


def test_fast_equals_eager_and_fused_equals_unfused(paper_pair: tuple[ISATSleepNet, ISATSleepNet]) -> None:
    eager, fast = paper_pair
    x = epochs(eager.config, 4, seed=5)
    with torch.no_grad():
        ref = eager(x)
        out_fast = fast(x)
    assert ref.abs().max() > 0.5, "logits should be O(1) for the comparison to mean something"
    assert (out_fast - ref).abs().max() < 1e-4
    for model in (eager, fast):
        fused = model.fuse_for_inference()
        assert not any(isinstance(m, nn.BatchNorm1d) for m in fused.network.eog.modules())
        assert (fused(x) - ref).abs().max() < 1e-4
    assert eager.training is False and sum(isinstance(m, nn.BatchNorm1d) for m in eager.modules()) > 0


def test_fused_model_is_inference_only(paper_pair: tuple[ISATSleepNet, ISATSleepNet]) -> None:
    fused = fuse_for_inference(paper_pair[1])
    with pytest.raises(RuntimeError, match="cannot be trained"):
        fused.train()
    assert fused(epochs(fused.config, 1)).requires_grad is False


@pytest.mark.parametrize("threads", [1, 2])
def test_training_gradients_match_without_dropout(threads: int) -> None:
    config = small_config(dropout=0.0, attention_dropout=0.0, use_fast_conv=False)
    eager = ISATSleepNet(config).train()
    fast = eager.with_fast_conv(True).train()
    x, y = epochs(config, 4, seed=3), torch.tensor([0, 1, 2, 3])
    grads = []
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for model in (eager, fast):
            loss = nn.functional.cross_entropy(model(x), y)
            names = [n for n, _ in model.named_parameters()]
            grads.append(dict(zip(names, torch.autograd.grad(loss, list(model.parameters())))))
    finally:
        torch.set_num_threads(before)
    for name, g in grads[0].items():
        torch.testing.assert_close(grads[1][name], g, rtol=1e-3, atol=1e-5, msg=name)


def test_fast_linear_matches_linear_with_gradients() -> None:
    ref, fast = nn.Linear(24, 40), FastLinear(24, 40)
    fast.load_state_dict(ref.state_dict())
    x = torch.randn(3, 7, 24, requires_grad=True)
    g = torch.randn(3, 7, 40)
    a = torch.autograd.grad(ref(x), (x, ref.weight, ref.bias), g)
    b = torch.autograd.grad(fast(x), (x, fast.weight, fast.bias), g)
    torch.testing.assert_close(fast(x), ref(x), rtol=1e-5, atol=1e-5)
    for u, v in zip(a, b):
        torch.testing.assert_close(v, u, rtol=1e-5, atol=1e-5)
    xd = x.detach().double()  # outside oneDNN's reach: plain F.linear
    torch.testing.assert_close(fast.double()(xd), ref.double()(xd))


def test_fast_dropout_keeps_distribution_and_scales() -> None:
    drop = FastDropout(0.5).train()
    x = torch.ones(200_000, requires_grad=True)
    y = drop(x)
    kept = (y != 0).float().mean().item()
    assert abs(kept - 0.5) < 0.01
    assert set(torch.unique(y.detach()).tolist()) <= {0.0, 2.0}
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())
    assert torch.equal(drop.eval()(x), x)


@pytest.mark.parametrize("length", [600, 601])
def test_fast_maxpool_matches_maxpool_with_gradients(length: int) -> None:
    x = torch.randn(3, 5, length, requires_grad=True)
    x.data[..., 1::7] = x.data[..., 0::7][..., : x.data[..., 1::7].shape[-1]]  # ties: first sample wins
    g = torch.randn(3, 5, length // 2)
    ref = nn.MaxPool1d(2)(x)
    out = FastMaxPool2()(x)
    assert torch.equal(out, ref)
    assert torch.equal(torch.autograd.grad(out, x, g)[0], torch.autograd.grad(ref, x, g)[0])
    with torch.no_grad():
        assert torch.equal(FastMaxPool2()(x), ref)


@pytest.mark.parametrize("overrides", [
    {"roles": ("eeg", "eog")},
    {"roles": ("eeg",)},
    {"use_simgate": False},
    {"use_cross_attention": False},
    {"use_lstm": False, "use_self_attention": False, "use_asr": False, "use_tpp": False, "use_lcr": False},
    {"n_samples": 1875, "sampling_rate": 62.5},
])
def test_fast_equals_eager_for_variants(overrides: dict) -> None:
    eager = calibrated(ISATSleepNet(small_config(use_fast_conv=False, **overrides)))
    fast = eager.with_fast_conv(True).eval()
    fused = fast.fuse_for_inference()
    x = epochs(eager.config, 3, seed=4)
    with torch.no_grad():
        ref = eager(x)
        assert (fast(x) - ref).abs().max() < 1e-4
    assert (fused(x) - ref).abs().max() < 1e-4


def test_fast_model_runs_under_autocast_and_in_bfloat16() -> None:
    model = calibrated(ISATSleepNet(small_config()))
    x = epochs(model.config, 2)
    with torch.no_grad():
        ref = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = model(x)
        pure = model.to(torch.bfloat16)(x.bfloat16())
    for out in (mixed, pure):
        assert out.shape == ref.shape and bool(torch.isfinite(out).all())
        assert (out.float() - ref).abs().max() < 0.1 * ref.abs().max() + 0.05


def test_split_batch_inference_on_two_threads_gives_the_same_logits(paper_pair: tuple[ISATSleepNet, ISATSleepNet]) -> None:
    eager, fast = paper_pair
    fused = fast.fuse_for_inference()
    x = epochs(eager.config, 5, seed=8)
    with torch.no_grad():
        ref = eager(x)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        split = fused(x)
        assert torch.get_num_threads() == 2          # restored after the parallel section
        single = fused(x[:1])                          # one example: nothing to split
    finally:
        torch.set_num_threads(threads)
    assert (split - ref).abs().max() < 1e-4
    assert (single - ref[:1]).abs().max() < 1e-4


def test_run_on_cores_returns_in_order_and_reraises() -> None:
    from isatsleepnet.model.parallel import run_on_cores

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert run_on_cores([lambda i=i: i * i for i in range(3)]) == [0, 1, 4]

        def boom() -> None:
            raise KeyError("worker failure")

        with pytest.raises(KeyError, match="worker failure"):
            run_on_cores([lambda: 1, boom])
        with torch.inference_mode():
            flags = run_on_cores([torch.is_inference_mode_enabled, torch.is_inference_mode_enabled])
        assert flags == [True, True]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)


def test_fast_eval_on_two_threads_equals_eager(paper_pair: tuple[ISATSleepNet, ISATSleepNet]) -> None:
    eager, fast = paper_pair
    x = epochs(eager.config, 3, seed=12)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with torch.no_grad():
            out = fast(x)
    finally:
        torch.set_num_threads(threads)
    with torch.no_grad():
        assert (out - eager(x)).abs().max() < 1e-4


def test_onednn_matmul_is_exact_float32_and_restores_the_setting() -> None:
    from isatsleepnet.model import fastops

    knob = fastops._matmul_precision_knob()
    before = knob.fp32_precision if knob is not None else None
    gen = torch.Generator().manual_seed(3)
    a, b = torch.randn(4, 70, 48, generator=gen), torch.randn(4, 48, 90, generator=gen)
    exact = torch.bmm(a.double(), b.double())
    with fastops.onednn_matmul():
        if fastops.onednn_matmul_exact():
            assert knob.fp32_precision == "bf16"  # the permission that routes float32 bmm to oneDNN
        got = torch.bmm(a, b).double()
    assert ((got - exact).abs().max() / exact.abs().max()) < 1e-5  # float32 rounding, not bfloat16
    assert (knob.fp32_precision if knob is not None else None) == before


def test_onednn_matmul_is_a_no_op_where_the_probe_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from isatsleepnet.model import fastops

    knob = fastops._matmul_precision_knob()
    if knob is None:
        pytest.skip("this torch has no oneDNN matmul precision setting")
    monkeypatch.setattr(fastops, "onednn_matmul_exact", lambda: False)
    before = knob.fp32_precision
    with fastops.onednn_matmul():
        assert knob.fp32_precision == before


def test_chunked_attention_equals_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    from isatsleepnet.model import attention

    gen = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(7, 2, 30, 8, generator=gen) for _ in range(3))
    with torch.inference_mode():
        whole = attention._plain_attention(q, k, v)
        monkeypatch.setattr(attention, "SCORES_PER_CHUNK", 2 * 30 * 30 * 3)  # chunks of 3 examples, last of 1
        chunked = attention._plain_attention(q, k, v)
    reference = torch.softmax(q @ k.transpose(-1, -2), dim=-1) @ v
    assert torch.allclose(whole, reference, atol=1e-6) and torch.allclose(chunked, reference, atol=1e-6)


def test_onednn_matmul_blocks_in_several_threads_restore_the_setting_once() -> None:
    import threading

    from isatsleepnet.model import fastops

    knob = fastops._matmul_precision_knob()
    if knob is None or not fastops.onednn_matmul_exact():
        pytest.skip("oneDNN float32 products are not exact here: the block is a no-op")
    before = knob.fp32_precision
    a_in, b_in, a_may_leave = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def a() -> None:
        with fastops.onednn_matmul():
            a_in.set()
            a_may_leave.wait(5)
        seen.append(("a left", knob.fp32_precision))

    def b() -> None:
        a_in.wait(5)
        with fastops.onednn_matmul():
            b_in.set()
            a_may_leave.set()
            first.join(5)  # thread a has left its block while b is still inside
            seen.append(("b inside", knob.fp32_precision))

    first, second = threading.Thread(target=a), threading.Thread(target=b)
    first.start(), second.start()
    second.join(5)
    assert seen == [("a left", "bf16"), ("b inside", "bf16")]
    assert knob.fp32_precision == before


def test_training_on_the_cpu_is_the_only_user_of_onednn_matmul_in_fit() -> None:
    # inside the block torch.get_float32_matmul_precision() raises (backends disagree);
    # Lightning calls it when it sets up a CUDA device, so fit enables the block on the CPU only
    import inspect

    from isatsleepnet.model import fastops
    from isatsleepnet.training import fit

    knob = fastops._matmul_precision_knob()
    if knob is None or not fastops.onednn_matmul_exact():
        pytest.skip("oneDNN float32 products are not exact here: the block is a no-op")
    with fastops.onednn_matmul(), pytest.raises(RuntimeError):
        torch.get_float32_matmul_precision()
    torch.get_float32_matmul_precision()  # fine again outside
    assert "onednn_matmul(on_cpu)" in inspect.getsource(fit.train_split)
