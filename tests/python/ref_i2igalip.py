"""PyTorch re-implementation of the I2I-Galip reference networks, for tests.

Transcribed from the public reference code (github.com/yilmazkorkmaz1/I2I-Galip:
networks/unet.py and networks/stylegan_disc.py) keeping its module tree, so that
state_dict keys are the reference's (input_blocks.1.0.in_layers.2.weight, ...).
Only the configuration the paper uses is kept: dims=2, no timestep, no dropout,
no scale-shift norm, resblock_updown=True, use_spatial_transformer=True,
legacy=True, num_head_channels set, transformer depth 1, gated FF (GEGLU),
no gradient checkpointing (it changes memory, not results).
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class GroupNorm32(nn.GroupNorm):
    # The reference computes half-precision inputs in float32; float32 and the
    # tests' float64 inputs pass through unchanged.
    def forward(self, x):
        return super().forward(x.float() if x.dtype == torch.float16 else x).type(x.dtype)


def normalization(channels):
    return GroupNorm32(32, channels)


class GEGLU(nn.Module):
    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x):
        x, gate = self.proj(x).chunk(2, dim=-1)
        return x * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim, mult=4):
        super().__init__()
        inner = int(dim * mult)
        self.net = nn.Sequential(GEGLU(dim, inner), nn.Dropout(0.0), nn.Linear(inner, dim))

    def forward(self, x):
        return self.net(x)


class CrossAttention(nn.Module):
    def __init__(self, query_dim, context_dim=None, heads=8, dim_head=64):
        super().__init__()
        inner = dim_head * heads
        context_dim = context_dim if context_dim is not None else query_dim
        self.scale = dim_head ** -0.5
        self.heads = heads
        self.to_q = nn.Linear(query_dim, inner, bias=False)
        self.to_k = nn.Linear(context_dim, inner, bias=False)
        self.to_v = nn.Linear(context_dim, inner, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, query_dim), nn.Dropout(0.0))

    def forward(self, x, context=None):
        h = self.heads
        q = self.to_q(x)
        context = x if context is None else context
        k = self.to_k(context)
        v = self.to_v(context)

        def split(t):  # 'b n (h d) -> (b h) n d'
            b, n, _ = t.shape
            return t.reshape(b, n, h, -1).permute(0, 2, 1, 3).reshape(b * h, n, -1)

        q, k, v = split(q), split(k), split(v)
        sim = torch.einsum("bid,bjd->bij", q, k) * self.scale
        attn = sim.softmax(dim=-1)
        out = torch.einsum("bij,bjd->bid", attn, v)
        bh, n, d = out.shape
        out = out.reshape(bh // h, h, n, d).permute(0, 2, 1, 3).reshape(bh // h, n, h * d)
        return self.to_out(out)


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim, n_heads, d_head, context_dim=None):
        super().__init__()
        self.attn1 = CrossAttention(dim, heads=n_heads, dim_head=d_head)
        self.ff = FeedForward(dim)
        self.attn2 = CrossAttention(dim, context_dim=context_dim, heads=n_heads, dim_head=d_head)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)

    def forward(self, x, context=None):
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context=context) + x
        x = self.ff(self.norm3(x)) + x
        return x


class SpatialTransformer(nn.Module):
    def __init__(self, in_channels, n_heads, d_head, depth=1, context_dim=None):
        super().__init__()
        inner = n_heads * d_head
        self.norm = nn.GroupNorm(32, in_channels, eps=1e-6, affine=True)
        self.proj_in = nn.Conv2d(in_channels, inner, 1)
        self.transformer_blocks = nn.ModuleList(
            [BasicTransformerBlock(inner, n_heads, d_head, context_dim=context_dim) for _ in range(depth)])
        self.proj_out = nn.Conv2d(inner, in_channels, 1)
        for p in self.proj_out.parameters():
            p.detach().zero_()

    def forward(self, x, context=None):
        b, c, h, w = x.shape
        x_in = x
        x = self.proj_in(self.norm(x))
        x = x.permute(0, 2, 3, 1).reshape(b, h * w, c)
        for blk in self.transformer_blocks:
            x = blk(x, context=context)
        x = x.reshape(b, h, w, c).permute(0, 3, 1, 2)
        return self.proj_out(x) + x_in


class Upsample(nn.Module):
    def forward(self, x):
        return F.interpolate(x, scale_factor=2, mode="nearest")


class Downsample(nn.Module):
    def __init__(self):
        super().__init__()
        self.op = nn.AvgPool2d(kernel_size=2, stride=2)

    def forward(self, x):
        return self.op(x)


class ResBlock(nn.Module):
    def __init__(self, channels, emb_channels, out_channels=None, up=False, down=False):
        super().__init__()
        self.out_channels = out_channels or channels
        self.in_layers = nn.Sequential(normalization(channels), nn.SiLU(),
                                       nn.Conv2d(channels, self.out_channels, 3, padding=1))
        self.updown = up or down
        if up:
            self.h_upd, self.x_upd = Upsample(), Upsample()
        elif down:
            self.h_upd, self.x_upd = Downsample(), Downsample()
        else:
            self.h_upd = self.x_upd = nn.Identity()
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_channels, self.out_channels))
        conv = nn.Conv2d(self.out_channels, self.out_channels, 3, padding=1)
        for p in conv.parameters():
            p.detach().zero_()
        self.out_layers = nn.Sequential(normalization(self.out_channels), nn.SiLU(),
                                        nn.Dropout(p=0.0), conv)
        if self.out_channels == channels:
            self.skip_connection = nn.Identity()
        else:
            self.skip_connection = nn.Conv2d(channels, self.out_channels, 1)

    def forward(self, x, emb):
        if self.updown:
            in_rest, in_conv = self.in_layers[:-1], self.in_layers[-1]
            h = in_rest(x)
            h = self.h_upd(h)
            x = self.x_upd(x)
            h = in_conv(h)
        else:
            h = self.in_layers(x)
        emb_out = self.emb_layers(emb).type(h.dtype)
        while len(emb_out.shape) < len(h.shape):
            emb_out = emb_out[..., None]
        h = h + emb_out
        h = self.out_layers(h)
        return self.skip_connection(x) + h


class TimestepEmbedSequential(nn.Sequential):
    def forward(self, x, emb, context=None):
        for layer in self:
            if isinstance(layer, ResBlock):
                x = layer(x, emb)
            elif isinstance(layer, SpatialTransformer):
                x = layer(x, context)
            else:
                x = layer(x)
        return x


class UNetModel(nn.Module):
    def __init__(self, in_channels=1, model_channels=32, out_channels=1, num_res_blocks=2,
                 attention_resolutions=(8, 16, 32), channel_mult=(1, 1, 2, 2, 4, 4),
                 num_classes=3, num_head_channels=32, context_dim=768):
        super().__init__()
        time_embed_dim = model_channels * 4
        self.label_emb = nn.Embedding(num_classes, time_embed_dim)
        self.input_blocks = nn.ModuleList(
            [TimestepEmbedSequential(nn.Conv2d(in_channels, model_channels, 3, padding=1))])
        input_block_chans = [model_channels]
        ch = model_channels
        ds = 1
        for level, mult in enumerate(channel_mult):
            for _ in range(num_res_blocks):
                layers = [ResBlock(ch, time_embed_dim, out_channels=mult * model_channels)]
                ch = mult * model_channels
                if ds in attention_resolutions:
                    num_heads = ch // num_head_channels
                    layers.append(SpatialTransformer(ch, num_heads, ch // num_heads,
                                                     context_dim=context_dim))
                self.input_blocks.append(TimestepEmbedSequential(*layers))
                input_block_chans.append(ch)
            if level != len(channel_mult) - 1:
                self.input_blocks.append(TimestepEmbedSequential(
                    ResBlock(ch, time_embed_dim, out_channels=ch, down=True)))
                input_block_chans.append(ch)
                ds *= 2
        num_heads = ch // num_head_channels
        self.middle_block = TimestepEmbedSequential(
            ResBlock(ch, time_embed_dim),
            SpatialTransformer(ch, num_heads, ch // num_heads, context_dim=context_dim),
            ResBlock(ch, time_embed_dim))
        self.output_blocks = nn.ModuleList([])
        for level, mult in list(enumerate(channel_mult))[::-1]:
            for i in range(num_res_blocks + 1):
                ich = input_block_chans.pop()
                layers = [ResBlock(ch + ich, time_embed_dim, out_channels=model_channels * mult)]
                ch = model_channels * mult
                if ds in attention_resolutions:
                    num_heads = ch // num_head_channels
                    layers.append(SpatialTransformer(ch, num_heads, ch // num_heads,
                                                     context_dim=context_dim))
                if level and i == num_res_blocks:
                    layers.append(ResBlock(ch, time_embed_dim, out_channels=ch, up=True))
                    ds //= 2
                self.output_blocks.append(TimestepEmbedSequential(*layers))
        conv = nn.Conv2d(model_channels, out_channels, 3, padding=1)
        for p in conv.parameters():
            p.detach().zero_()
        self.out = nn.Sequential(normalization(ch), nn.SiLU(), conv)

    def forward(self, x, context=None, y=None):
        hs = []
        emb = self.label_emb(y)
        h = x
        for module in self.input_blocks:
            h = module(h, emb, context)
            hs.append(h)
        hs_copy = hs.copy()
        h = self.middle_block(h, emb, context)
        for module in self.output_blocks:
            h = torch.cat([h, hs.pop()], dim=1)
            h = module(h, emb, context)
        return self.out(h), hs_copy[-1]

    def init_weights(self):
        self.apply(self._init_weights)

    def _init_weights(self, m):
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.LayerNorm):
            nn.init.constant_(m.bias, 0)
            nn.init.constant_(m.weight, 1.0)
        elif isinstance(m, nn.Conv2d):
            nn.init.xavier_normal_(m.weight.data, gain=0.02)


def small_unet_kwargs():
    """A small configuration that still has every kind of block: 3 levels,
    attention at 2x and 4x, 32 channels (the GroupNorm needs 32 groups)."""
    return dict(in_channels=1, model_channels=32, out_channels=1, num_res_blocks=1,
                attention_resolutions=(2, 4), channel_mult=(1, 2, 2), num_classes=3,
                num_head_channels=32, context_dim=48)


# ---- discriminator (networks/stylegan_disc.py) ------------------------------------

from torch.nn.utils.spectral_norm import SpectralNorm  # noqa: E402


class FullyConnectedLayer(nn.Module):
    def __init__(self, in_feat, out_feat, activation=nn.Identity()):
        super().__init__()
        self.linear_layer = nn.Linear(in_feat, out_feat)
        self.act = activation

    def forward(self, x):
        return self.act(self.linear_layer(x))


class ResidualBlock(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return (self.fn(x) + x) / np.sqrt(2)


class SpectralConv1d(nn.Conv1d):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        SpectralNorm.apply(self, name='weight', n_power_iterations=1, dim=0, eps=1e-12)


class BatchNormLocal(nn.Module):
    def __init__(self, num_features, affine=True, virtual_bs=8, eps=1e-5):
        super().__init__()
        self.virtual_bs = virtual_bs
        self.eps = eps
        self.affine = affine
        if self.affine:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))

    def forward(self, x):
        shape = x.size()
        G = np.ceil(x.size(0) / self.virtual_bs).astype(int)
        x = x.view(G, -1, x.size(-2), x.size(-1))
        mean = x.mean([1, 3], keepdim=True)
        var = x.var([1, 3], keepdim=True, unbiased=False)
        x = (x - mean) / (torch.sqrt(var + self.eps))
        if self.affine:
            x = x * self.weight[None, :, None] + self.bias[None, :, None]
        return x.view(shape)


def make_block(channels, kernel_size):
    return nn.Sequential(
        SpectralConv1d(channels, channels, kernel_size=kernel_size, padding=kernel_size // 2,
                       padding_mode='circular'),
        BatchNormLocal(channels),
        nn.LeakyReLU(0.2, True),
    )


class DiscHead(nn.Module):
    def __init__(self, channels, c_dim, cmap_dim=64, kernel_size=9):
        super().__init__()
        self.channels = channels
        self.c_dim = c_dim
        self.cmap_dim = cmap_dim
        self.main = nn.Sequential(make_block(channels, kernel_size=1),
                                  ResidualBlock(make_block(channels, kernel_size=kernel_size)))
        self.cmapper = FullyConnectedLayer(self.c_dim, cmap_dim)
        self.cls = SpectralConv1d(channels, cmap_dim, kernel_size=1, padding=0)

    def forward(self, x, c):
        h = self.main(x)
        out = self.cls(h)
        cmap = self.cmapper(c).unsqueeze(-1)
        out = (out * cmap).sum(1, keepdim=True) * (1 / np.sqrt(self.cmap_dim))
        return out


class ProjectedDiscriminator(nn.Module):
    def __init__(self, c_dim=512, embed_dim=768, num_of_disc_feats=4, num_of_classes=2,
                 cmap_dim=64, kernel_size=9):
        super().__init__()
        self.feat_modulator = nn.Conv2d(256, 1, kernel_size=4, stride=1, padding=1)
        self.heads = nn.ModuleList()
        for _ in range(num_of_classes):
            heads = []
            for i in range(num_of_disc_feats):
                heads += [str(i), DiscHead(embed_dim, c_dim, cmap_dim, kernel_size)],
            self.heads.append(nn.ModuleDict(heads))

    def forward(self, features, text_encoding, class_label=None):
        logits = []
        for i in range(features.size(0)):
            logits_ = []
            label = class_label[i].item()
            for k, head in self.heads[label].items():
                logits_.append(head(features[i:(i + 1), int(k), :, :], text_encoding[i:(i + 1)]).view(1, -1))
            logits.append(torch.cat(logits_, dim=1))
        return torch.cat(logits, dim=0)
