"""BiomedCLIP re-implemented in plain PyTorch: the reference for the C encoder.

Loads the open_clip state dict (same key names as the published checkpoint) and
computes what open_clip + timm + transformers compute, written out from their
sources rather than imported (none of them is installed here):

  - preprocessing: the grey image tiled to 3 channels, torchvision
    Resize(image_size, BICUBIC) on a tensor (shorter side to image_size,
    F.interpolate(mode='bicubic', align_corners=False, antialias=True)),
    CenterCrop(image_size), Normalize(mean, std);
  - vision: timm VisionTransformer (class token + absolute position embedding,
    pre-norm blocks with fused qkv, erf GELU MLP), get_intermediate_layers(n,
    return_prefix_tokens=True, norm=True), and open_clip's TimmModel head
    (Linear without bias on the final-normed class token);
  - text: transformers BertModel without pooler (post-norm layers, the additive
    padding mask (1 - mask) * finfo.min built from input_ids != pad_token_id)
    and open_clip HFTextEncoder with cls_last_hidden_state_pooler and
    proj_type 'mlp' (Linear, GELU, Linear, no biases).

Everything runs in the dtype given (float64 for tests), in NCHW like torch.
"""
import math

import torch
import torch.nn.functional as F

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def resized_size(h, w, size):
    """torchvision _compute_resized_output_size for an int size."""
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    return new_h, new_w


def center_crop(x, size):
    """torchvision F.center_crop (the crop never needs padding here)."""
    h, w = x.shape[-2:]
    top = int(round((h - size) / 2.0))
    left = int(round((w - size) / 2.0))
    return x[..., top:top + size, left:left + size]


class BiomedCLIP:
    def __init__(self, sd, image_size, vision_heads, text_heads, context_length, taps, n_cls,
                 vision_eps=1e-6, text_eps=1e-12, pad_id=0, dtype=torch.float64):
        self.p = {k: v.to(dtype) for k, v in sd.items() if v.is_floating_point()}
        self.image_size = image_size
        self.vh, self.th = vision_heads, text_heads
        self.context_length = context_length
        self.taps, self.n_cls = list(taps), n_cls
        self.veps, self.teps = vision_eps, text_eps
        self.pad_id = pad_id
        self.dtype = dtype
        self.depth = len({k.split(".")[3] for k in self.p if k.startswith("visual.trunk.blocks.")})
        self.tdepth = len({k.split(".")[4] for k in self.p
                           if k.startswith("text.transformer.encoder.layer.")})

    # ---- vision -------------------------------------------------------------------

    def preprocess(self, grey):
        """grey: N x 1 x H x W in [0, 1] -> N x 3 x S x S normalised."""
        x = torch.tile(grey, (1, 3, 1, 1))
        h, w = x.shape[-2:]
        nh, nw = resized_size(h, w, self.image_size)
        if (nh, nw) != (h, w):
            x = F.interpolate(x, size=(nh, nw), mode="bicubic", align_corners=False,
                              antialias=True)
        x = center_crop(x, self.image_size)
        mean = torch.tensor(CLIP_MEAN, dtype=x.dtype).view(1, 3, 1, 1)
        std = torch.tensor(CLIP_STD, dtype=x.dtype).view(1, 3, 1, 1)
        return (x - mean) / std

    def _ln(self, x, name, eps):
        return F.layer_norm(x, x.shape[-1:], self.p[name + ".weight"], self.p[name + ".bias"], eps)

    def _lin(self, x, name, bias=True):
        return F.linear(x, self.p[name + ".weight"], self.p.get(name + ".bias") if bias else None)

    def _vit_block(self, x, i):
        b = "visual.trunk.blocks.%d." % i
        n, t, c = x.shape
        h = self._ln(x, b + "norm1", self.veps)
        qkv = self._lin(h, b + "attn.qkv").reshape(n, t, 3, self.vh, c // self.vh)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        attn = (q * (c // self.vh) ** -0.5) @ k.transpose(-2, -1)
        a = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(n, t, c)
        x = x + self._lin(a, b + "attn.proj")
        h = self._ln(x, b + "norm2", self.veps)
        return x + self._lin(F.gelu(self._lin(h, b + "mlp.fc1")), b + "mlp.fc2")

    def encode_image(self, grey):
        """Returns (embedding N x E, [taps N x T x C], cls N x n_cls x C), like
        get_intermediate_layers(x, range(depth), return_prefix_tokens=True,
        norm=True) feeding taps / class tokens, and the TimmModel head."""
        x = self.preprocess(grey)
        w = self.p["visual.trunk.patch_embed.proj.weight"]
        x = F.conv2d(x, w, self.p["visual.trunk.patch_embed.proj.bias"], stride=w.shape[-1])
        x = x.flatten(2).transpose(1, 2)
        cls = self.p["visual.trunk.cls_token"].expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self.p["visual.trunk.pos_embed"]
        normed = []
        for i in range(self.depth):
            x = self._vit_block(x, i)
            normed.append(self._ln(x, "visual.trunk.norm", self.veps))
        patches = [o[:, 1:] for o in normed]
        prefix = [o[:, 0:1] for o in normed]
        taps = [patches[b] for b in self.taps]
        cls = torch.cat([prefix[self.depth - 1 - j] for j in range(self.n_cls)], dim=1)
        # timm forward_head with global_pool='token': x[:, 0] of norm(x);
        # open_clip head: Dropout(0) -> Linear(bias=False).
        emb = F.linear(normed[-1][:, 0], self.p["visual.head.proj.weight"])
        return emb, taps, cls

    # ---- text -----------------------------------------------------------------------

    def encode_text(self, ids):
        """ids: N x L int64. Returns (last hidden state N x L x C, embedding N x E)."""
        n, L = ids.shape
        e = "text.transformer.embeddings."
        x = F.embedding(ids, self.p[e + "word_embeddings.weight"])
        x = x + F.embedding(torch.zeros_like(ids), self.p[e + "token_type_embeddings.weight"])
        x = x + self.p[e + "position_embeddings.weight"][:L].unsqueeze(0)
        x = self._ln(x, e + "LayerNorm", self.teps)
        mask = (ids != self.pad_id).to(self.dtype)
        bias = ((1.0 - mask) * torch.finfo(self.dtype).min)[:, None, None, :]
        c = x.shape[-1]
        hd = c // self.th
        for i in range(self.tdepth):
            l = "text.transformer.encoder.layer.%d." % i

            def heads(t):
                return t.view(n, L, self.th, hd).permute(0, 2, 1, 3)

            q = heads(self._lin(x, l + "attention.self.query"))
            k = heads(self._lin(x, l + "attention.self.key"))
            v = heads(self._lin(x, l + "attention.self.value"))
            s = q @ k.transpose(-1, -2) / math.sqrt(hd) + bias
            a = (s.softmax(dim=-1) @ v).permute(0, 2, 1, 3).reshape(n, L, c)
            x = self._ln(self._lin(a, l + "attention.output.dense") + x,
                         l + "attention.output.LayerNorm", self.teps)
            f = self._lin(F.gelu(self._lin(x, l + "intermediate.dense")), l + "output.dense")
            x = self._ln(f + x, l + "output.LayerNorm", self.teps)
        pooled = x[:, 0, :]
        emb = F.linear(F.gelu(F.linear(pooled, self.p["text.proj.0.weight"])),
                       self.p["text.proj.2.weight"])
        return x, emb
