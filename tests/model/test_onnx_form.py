"""The ONNX export form: spectral convolutions equal nn.Conv1d; the folded, packed network equals the eager one."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from isatsleepnet.model import ISATSleepNet
from isatsleepnet.model.architectures import get_architecture
from isatsleepnet.model.fftconv import FFTConv1d
from isatsleepnet.model.onnx_form import SpectralConv1d, TimeMajorResidualStack, export_graph
from tests.model.helpers import calibrated, epochs, small_config


@pytest.mark.parametrize(("c_in", "c_out", "kernel", "dilation", "padding", "length", "n_fft"), [
    (64, 64, 31, 1, 15, 750, None),    # the paper's residual layers
    (64, 64, 31, 4, 60, 750, None),
    (8, 8, 9, 2, 8, 375, None),        # an odd length: the phases are not all equally long
    (3, 5, 7, 3, 2, 101, 16),          # other channel counts, a padding that shortens, a small block
    (4, 4, 5, 1, 0, 6, 8),             # one block, output of 2
])
def test_spectral_convolution_equals_conv1d(c_in, c_out, kernel, dilation, padding, length, n_fft):
    torch.manual_seed(0)
    conv = nn.Conv1d(c_in, c_out, kernel, padding=padding, dilation=dilation).eval()
    layer = SpectralConv1d(conv, length, n_fft)
    x = torch.randn(3, c_in, length)
    with torch.no_grad():
        want = conv(x)
        got = layer(x.permute(2, 0, 1)).permute(1, 2, 0)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=0, atol=2e-5 * want.abs().max().item())


def test_spectral_convolution_refuses_what_it_cannot_compute():
    with pytest.raises(ValueError, match="stride-1"):
        SpectralConv1d(nn.Conv1d(2, 2, 3, stride=2), 50)
    with pytest.raises(ValueError, match="stride-1"):
        SpectralConv1d(nn.Conv1d(2, 2, 3, padding="same"), 50)
    with pytest.raises(ValueError, match="does not fit"):
        SpectralConv1d(nn.Conv1d(2, 2, 9), 5)


@pytest.fixture(scope="module")
def network() -> ISATSleepNet:
    torch.manual_seed(3)
    return calibrated(ISATSleepNet(small_config(roles=("eeg", "eeg2", "eog")))).eval()


@pytest.mark.parametrize("form", ["float", "int8"])
def test_the_export_form_computes_the_eager_network(network, form):
    fast = network.with_fast_conv(True).eval()
    before = {k: v.clone() for k, v in fast.state_dict().items()}
    graph = export_graph(fast, form=form)
    x = epochs(network.config, 6, seed=4)
    with torch.no_grad():
        want = torch.softmax(network.with_fast_conv(False).eval()(x), -1)
        got = torch.softmax(graph(x), -1)
        emb_want = network.logits_and_embedding(x)
        emb_got = graph.logits_and_embedding(x)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
    torch.testing.assert_close(emb_got, emb_want, rtol=0, atol=1e-4)
    # folded: no BatchNorm left in the EOG encoder, none before a convolution's output in the EEG one (its last
    # follows a ReLU); no FFT convolution (no ONNX form) anywhere
    assert not any(isinstance(m, nn.BatchNorm1d) for m in graph.eog.modules())
    assert [n for n, m in graph.eeg.named_modules() if isinstance(m, nn.BatchNorm1d)] == ["eeg.norm_out", "eeg2.norm_out"]
    assert not any(isinstance(m, FFTConv1d) for m in graph.modules())
    stacks = [m for m in graph.modules() if isinstance(m, TimeMajorResidualStack)]
    assert len(stacks) == (1 if form == "float" else 0)  # one EOG channel
    assert all(torch.equal(v, fast.state_dict()[k]) for k, v in before.items())  # the input is not changed


def test_an_unknown_form_and_an_architecture_without_one():
    net = ISATSleepNet(small_config(roles=("eeg", "eog"))).eval()
    with pytest.raises(ValueError, match="unknown export form"):
        export_graph(net, form="int4")
    baseline = get_architecture("attnsleep")
    assert baseline.exported is None
    eager = object()
    assert baseline.export_graph(net, eager) is eager  # exported as its eager graph
    cfg = dataclasses.replace(small_config(roles=("eeg",)), use_fast_conv=True)
    assert isinstance(get_architecture("isatsleepnet").export_graph(ISATSleepNet(cfg).eval(), None), nn.Module)
