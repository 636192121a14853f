"""FFTConv1d computes exactly what nn.Conv1d computes, forward and backward."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from isatsleepnet.model.fftconv import FFTConv1d, FFTPlan, Geometry, _SpectralCorrelation, make_plan

CASES = [
    # c_in, c_out, kernel, dilation, padding, length
    (64, 64, 31, 1, 15, 750),
    (64, 64, 31, 2, 30, 750),
    (64, 64, 31, 4, 60, 750),
    (3, 5, 7, 2, 0, 40),
    (3, 5, 7, 3, "same", 41),
    (2, 4, 1, 1, 0, 10),
    (4, 4, 5, 1, 2, 9),
    (4, 6, 9, 5, "valid", 100),
    (2, 3, 4, 2, 3, 37),
    (2, 3, 6, 3, "same", 29),
    (8, 8, 101, 1, 50, 300),
]


def pair(c_in: int, c_out: int, k: int, d: int, pad: int | str, dtype: torch.dtype) -> tuple[nn.Conv1d, FFTConv1d]:
    ref = nn.Conv1d(c_in, c_out, k, dilation=d, padding=pad).to(dtype)
    fft = FFTConv1d(c_in, c_out, k, dilation=d, padding=pad).to(dtype)
    fft.load_state_dict(ref.state_dict())
    return ref, fft


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
@pytest.mark.parametrize("c_in, c_out, k, d, pad, length", CASES)
def test_forward_and_gradients_match_conv1d(c_in: int, c_out: int, k: int, d: int, pad: int | str, length: int) -> None:
    ref, fft = pair(c_in, c_out, k, d, pad, torch.float64)
    x = torch.randn(3, c_in, length, dtype=torch.float64, requires_grad=True)
    y_ref, y = ref(x), fft(x)
    assert y.shape == y_ref.shape
    torch.testing.assert_close(y, y_ref, rtol=0, atol=1e-12)
    g = torch.randn_like(y_ref)
    grads_ref = torch.autograd.grad(y_ref, (x, ref.weight, ref.bias), g)
    grads = torch.autograd.grad(y, (x, fft.weight, fft.bias), g)
    for a, b in zip(grads, grads_ref):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    with torch.no_grad():  # the cached-spectrum inference path
        torch.testing.assert_close(fft(x), y_ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("c_in, c_out, k, d, pad, length", CASES[:3])
def test_float32_tolerance(c_in: int, c_out: int, k: int, d: int, pad: int | str, length: int) -> None:
    ref, fft = pair(c_in, c_out, k, d, pad, torch.float32)
    x = torch.randn(4, c_in, length)
    with torch.no_grad():
        err = (fft(x) - ref(x)).abs().max().item()
    assert err < 2e-5


@pytest.mark.parametrize("n_fft, kernel, dilation, pad_left, pad_right, length", [
    (16, 5, 1, 2, 2, 80),     # 7 overlapping blocks
    (16, 5, 3, 6, 6, 123),    # polyphase and blocks
    (12, 4, 2, 3, 1, 50),     # asymmetric padding, even kernel
    (9, 3, 1, 0, 0, 40),      # odd FFT size
])
def test_gradcheck_multi_block(n_fft: int, kernel: int, dilation: int, pad_left: int, pad_right: int, length: int) -> None:
    """The hand-written backward (rfft/irfft adjoints, block fold) against finite differences."""
    out_len = length + pad_left + pad_right - dilation * (kernel - 1)
    per_phase = -(-out_len // dilation)
    step = n_fft - kernel + 1
    blocks = -(-per_phase // step)
    plan = FFTPlan(n_fft, step, blocks, blocks * step + kernel - 1, out_len, per_phase)
    g = Geometry(plan, kernel, dilation, pad_left, length)
    x = torch.randn(2, 3, length, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 3, kernel, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: _SpectralCorrelation.apply(a, b, g), (x, w))
    ref = torch.nn.functional.conv1d(torch.nn.functional.pad(x, (pad_left, pad_right)), w, dilation=dilation)
    torch.testing.assert_close(_SpectralCorrelation.apply(x, w, g), ref, rtol=0, atol=1e-12)


def test_plan_keeps_blocks_longer_than_the_kernel() -> None:
    for kernel in (1, 3, 31, 101):
        for d in (1, 2, 4):
            p = make_plan(750, kernel, d, d * (kernel - 1) // 2, d * (kernel - 1) // 2)
            assert p.n_fft >= 2 * kernel and p.step == p.n_fft - kernel + 1
            assert p.n_blocks * p.step >= p.per_phase and p.out_len == 750
    assert make_plan(750, 31, 1, 15, 15).n_fft == 128


def test_state_dict_is_interchangeable_and_cache_follows_weight_updates() -> None:
    ref = nn.Conv1d(8, 8, 15, padding=7)
    fft = FFTConv1d(8, 8, 15, padding=7)
    assert ref.state_dict().keys() == fft.state_dict().keys()
    fft.load_state_dict(ref.state_dict())
    x = torch.randn(2, 8, 100)
    with torch.no_grad():
        fft(x)  # fills the spectrum cache
        ref.weight.mul_(-2.0)
        fft.weight.mul_(-2.0)  # in-place update must invalidate it
        torch.testing.assert_close(fft(x), ref(x), rtol=1e-5, atol=1e-5)
    fft.load_state_dict(nn.Conv1d(8, 8, 15, padding=7).state_dict())  # so must a reload
    with torch.no_grad():
        assert (fft(x) - ref(x)).abs().max() > 1e-2


def test_unsupported_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="stride 1"):
        FFTConv1d(2, 2, 3, stride=2)
    with pytest.raises(ValueError, match="groups 1"):
        FFTConv1d(2, 2, 3, groups=2)


def test_autocast_runs_in_float32() -> None:
    ref, fft = pair(4, 4, 9, 2, 8, torch.float32)
    x = torch.randn(2, 4, 64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = fft(x.bfloat16())
    assert y.dtype == torch.float32
    with torch.no_grad():
        torch.testing.assert_close(y, ref(x.bfloat16().float()), rtol=1e-5, atol=1e-5)


def test_flop_counts() -> None:
    fft = FFTConv1d(64, 64, 31, padding=15)
    direct, fast = fft.direct_flops(750), fft.fft_flops(750)
    assert direct == 2 * 64 * 64 * 31 * 750
    assert direct / fast > 8


@pytest.mark.parametrize("rows", [1, 7, 10**6])
def test_inference_chunking_gives_the_same_result(rows: int, monkeypatch: pytest.MonkeyPatch) -> None:
    import isatsleepnet.model.fftconv as fftconv

    monkeypatch.setattr(fftconv, "ROWS_PER_CHUNK", rows)
    ref, fft = pair(6, 5, 9, 2, 8, torch.float64)
    x = torch.randn(11, 6, 300, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(fft(x), ref(x), rtol=0, atol=1e-12)


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_two_cores_give_the_same_result(batch: int) -> None:
    """With 2 threads each core takes a slice of the batch (forward, backward, inference)."""
    ref, fft = pair(6, 5, 9, 2, 8, torch.float64)
    x = torch.randn(batch, 6, 300, dtype=torch.float64, requires_grad=True)
    g = torch.randn(batch, 5, 300, dtype=torch.float64)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        y = fft(x)
        grads = torch.autograd.grad(y, (x, fft.weight, fft.bias), g)
        with torch.no_grad():
            cached = fft(x)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    y_ref = ref(x)
    torch.testing.assert_close(y, y_ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(cached, y_ref, rtol=0, atol=1e-12)
    for a, b in zip(grads, torch.autograd.grad(y_ref, (x, ref.weight, ref.bias), g)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
