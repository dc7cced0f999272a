"""The VideoAdviser teacher: CLIP towers, temporal integration, video-enhanced prompts, step 1.

Shapes: B clips, T frames, P patches per frame, L transcript tokens, K classes, E the CLIP
joint-embedding width (``projection_dim``).

1. Vision: each frame -> CLIP vision tower -> CLS embedding and patch tokens, both through
   ``post_layernorm`` and ``visual_projection`` into the joint space: ``(B, T, E)`` and, averaged
   over frames, ``(B, P, E)``.
2. Temporal integration: a small pre-norm transformer with learnable temporal positions over
   the T frame embeddings, residual, mean over frames -> video embedding ``(B, E)``.
3. Transcript -> embedding ``(B, E)`` and token embeddings ``(B, L, E)``: by default the CLIP
   text tower (EOS token, ``text_projection``, as in the paper); or any pretrained
   Hugging Face text encoder (:class:`TranscriptEncoder`: tokens through a learned linear map
   into the joint space, masked mean for the embedding). Class prompts always go through the
   CLIP text tower.
4. Video-enhanced prompts: K class prompts ("a video of a person expressing {class}
   sentiment") are encoded by the text tower ``(K, E)``; cross-attention blocks let them attend
   over the visual tokens and transcript tokens (plus one always-present learned null token, so
   a clip with no usable modality never attends over an empty set); the result, scaled by a
   learnable per-channel alpha (init 0.1), is added to the prompt embeddings.
5. Classification logits ``z_k = exp(s) * cos(q, prompt_k)``, where the video-text embedding
   ``q`` is the mean of the available L2-normalised video and transcript embeddings.
6. Step 1: a head maps the K logits to one regression logit ``r_T``.

Modality masks: ``video_mask`` (B,) is False for clips without usable video (``blank``
policy) and for transcript-only teachers; the transcript is dropped for video-only teachers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers import CLIPModel, PreTrainedModel

SENTIMENT_CLASSES_7: tuple[str, ...] = (
    "highly negative",
    "negative",
    "weakly negative",
    "neutral",
    "weakly positive",
    "positive",
    "highly positive",
)


def class_names(num_classes: int) -> list[str]:
    """Names for K sentiment classes (the paper's 7; otherwise evenly spaced scores)."""
    if num_classes == 7:
        return list(SENTIMENT_CLASSES_7)
    values = class_values(num_classes).tolist()
    return [f"{v:+.1f} out of 3" for v in values]


def class_values(num_classes: int) -> Tensor:
    """The score each class stands for, evenly spaced over [-3, 3]: ``(K,)``."""
    return torch.linspace(-3.0, 3.0, num_classes)


@dataclass
class TeacherOutput:
    """``logits`` (B, K) classification logits, ``regression`` (B,) the step-1 logit r_T."""

    logits: Tensor
    regression: Tensor


class TemporalIntegration(nn.Module):
    """Frame embeddings ``(B, T, E)`` -> video embedding ``(B, E)``: transformer, residual, mean."""

    def __init__(self, dim: int, num_frames: int, layers: int, heads: int) -> None:
        super().__init__()
        self.positions = nn.Parameter(torch.zeros(1, num_frames, dim))
        nn.init.normal_(self.positions, std=0.02)
        layer = nn.TransformerEncoderLayer(
            dim, heads, dim_feedforward=4 * dim, dropout=0.0, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self, frames: Tensor) -> Tensor:
        if frames.shape[1] > self.positions.shape[1]:
            raise ValueError(
                f"{frames.shape[1]} frames, but positions exist for {self.positions.shape[1]}"
            )
        x = frames + self.positions[:, : frames.shape[1]]
        return (frames + self.encoder(x)).mean(dim=1)


class CrossAttentionBlock(nn.Module):
    """Pre-norm cross-attention (queries attend over context) and a 4x MLP, both residual."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, queries: Tensor, context: Tensor, context_padding: Tensor) -> Tensor:
        """queries (B, K, E), context (B, N, E), padding (B, N) True = ignore -> (B, K, E)."""
        kv = self.norm_kv(context)
        attended, _ = self.attention(
            self.norm_q(queries), kv, kv, key_padding_mask=context_padding, need_weights=False
        )
        x = queries + attended
        return x + self.mlp(self.norm_mlp(x))


class PromptEnhancer(nn.Module):
    """Video-enhanced prompts: prompts + alpha * CrossAttention(prompts, visual + text tokens)."""

    def __init__(self, dim: int, layers: int, heads: int, alpha_init: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(CrossAttentionBlock(dim, heads) for _ in range(layers))
        self.alpha = nn.Parameter(torch.full((dim,), alpha_init))
        self.null_token = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.normal_(self.null_token, std=0.02)

    def forward(self, prompts: Tensor, context: Tensor, context_padding: Tensor) -> Tensor:
        """prompts (K, E), context (B, N, E), context_padding (B, N) -> enhanced (B, K, E)."""
        batch = context.shape[0]
        null = self.null_token.expand(batch, -1, -1)
        context = torch.cat([null, context], dim=1)
        padding = torch.cat([context_padding.new_zeros(batch, 1), context_padding], dim=1)
        x = prompts.unsqueeze(0).expand(batch, -1, -1)
        for block in self.blocks:
            x = block(x, context, padding)
        return prompts.unsqueeze(0) + self.alpha * x


class RegressionHead(nn.Module):
    """Step 1: K classification logits -> one regression logit r_T.

    ``mlp``: a small MLP. ``expectation``: the expected class score under softmax(z) plus a
    learned MLP correction (initialised at zero).
    """

    def __init__(self, num_classes: int, kind: str, hidden: int = 64) -> None:
        super().__init__()
        if kind not in ("mlp", "expectation"):
            raise ValueError(f"head {kind!r} is not one of mlp, expectation")
        self.kind = kind
        self.mlp = nn.Sequential(nn.Linear(num_classes, hidden), nn.GELU(), nn.Linear(hidden, 1))
        if kind == "expectation":
            nn.init.zeros_(self.mlp[-1].weight)
            nn.init.zeros_(self.mlp[-1].bias)
        self.register_buffer("values", class_values(num_classes), persistent=False)

    def forward(self, logits: Tensor) -> Tensor:
        """(B, K) -> (B,)."""
        out = self.mlp(logits).squeeze(-1)
        if self.kind == "expectation":
            out = out + (logits.softmax(dim=-1) * self.values).sum(dim=-1)
        return out


class TranscriptEncoder(nn.Module):
    """A pretrained text encoder for transcripts, projected into the CLIP joint space.

    Split in two so a frozen encoder runs once per clip: :meth:`hidden` gives the encoder's
    token states ``(B, L, H)`` (precomputable), :meth:`forward` projects them.
    """

    def __init__(self, encoder: PreTrainedModel, dim: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.projection = nn.Linear(encoder.config.hidden_size, dim, bias=False)

    def hidden(self, ids: Tensor, mask: Tensor) -> Tensor:
        """ids, mask (B, L) -> last hidden states (B, L, H)."""
        return self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state

    def forward(self, hidden: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """hidden (B, L, H), mask (B, L) -> pooled (B, E) (masked mean), tokens (B, L, E)."""
        tokens = self.projection(hidden)
        weights = mask.to(tokens.dtype).unsqueeze(-1)
        pooled = (tokens * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        return pooled, tokens


@dataclass
class TeacherArchitecture:
    """The teacher's own hyper-parameters (the CLIP towers come from the checkpoint)."""

    num_frames: int = 8
    num_classes: int = 7
    use_video: bool = True
    use_text: bool = True
    prompt_enhancement: bool = True
    temporal_layers: int = 1
    cross_layers: int = 2
    alpha_init: float = 0.1
    head: str = "mlp"
    prompt_template: str = "a video of a person expressing {} sentiment"
    transcript_encoder: str = "clip"  # "clip" (the CLIP text tower) or a pretrained encoder


class VideoAdviserTeacher(nn.Module):
    """CLIP-based multimodal teacher; see the module docstring for the computation."""

    def __init__(
        self,
        clip: CLIPModel,
        arch: TeacherArchitecture,
        prompt_ids: Tensor,
        prompt_mask: Tensor,
        transcript_encoder: PreTrainedModel | None = None,
    ) -> None:
        super().__init__()
        if not (arch.use_video or arch.use_text):
            raise ValueError("the teacher needs video, transcript or both as input")
        if (arch.transcript_encoder == "clip") != (transcript_encoder is None):
            raise ValueError(
                "pass a transcript encoder exactly when arch.transcript_encoder is not 'clip'"
            )
        self.clip = clip
        # CLIP's own temperature is never used (the teacher has its own, below); frozen so that
        # every trainable parameter gets a gradient, as DDP expects
        clip.logit_scale.requires_grad_(False)
        self.arch = arch
        dim = clip.config.projection_dim
        self.transcript = (
            None if transcript_encoder is None else TranscriptEncoder(transcript_encoder, dim)
        )
        heads = max(1, dim // 64)
        self.temporal = TemporalIntegration(dim, arch.num_frames, arch.temporal_layers, heads)
        self.enhancer = PromptEnhancer(dim, arch.cross_layers, heads, arch.alpha_init)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.head = RegressionHead(arch.num_classes, arch.head)
        # Class prompts are fixed token ids; their embeddings follow the (maybe tuned) text tower.
        self.register_buffer("prompt_ids", prompt_ids, persistent=False)
        self.register_buffer("prompt_mask", prompt_mask, persistent=False)

    # -- towers ------------------------------------------------------------------------------
    def encode_frames(self, pixels: Tensor) -> tuple[Tensor, Tensor]:
        """pixels (B, T, 3, S, S) -> frame embeddings (B, T, E), mean patch tokens (B, P, E)."""
        b, t = pixels.shape[:2]
        vision = self.clip.vision_model(pixel_values=pixels.flatten(0, 1))
        tokens = self.clip.visual_projection(
            self.clip.vision_model.post_layernorm(vision.last_hidden_state)
        )
        tokens = tokens.view(b, t, tokens.shape[1], tokens.shape[2])  # (B, T, 1 + P, E)
        return tokens[:, :, 0], tokens[:, :, 1:].mean(dim=1)

    def encode_text(self, ids: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """CLIP text tower: ids, mask (B, L) -> pooled (B, E), tokens (B, L, E)."""
        out = self.clip.text_model(input_ids=ids, attention_mask=mask)
        return self.clip.text_projection(out.pooler_output), self.clip.text_projection(
            out.last_hidden_state
        )

    def encode_transcript(
        self, ids: Tensor, mask: Tensor, hidden: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Transcript ids, mask (B, L) -> pooled (B, E), tokens (B, L, E).

        ``hidden`` (B, L, H): the transcript encoder's precomputed token states (frozen
        encoder); only for a non-CLIP transcript encoder.
        """
        if self.transcript is None:
            return self.encode_text(ids, mask)
        if hidden is None:
            hidden = self.transcript.hidden(ids, mask)
        return self.transcript(hidden, mask)

    # -- forward -----------------------------------------------------------------------------
    def forward(
        self,
        text_ids: Tensor,
        text_mask: Tensor,
        video_mask: Tensor,
        pixels: Tensor | None = None,
        frame_features: Tensor | None = None,
        patch_features: Tensor | None = None,
        transcript_mask: Tensor | None = None,
        text_hidden: Tensor | None = None,
    ) -> TeacherOutput:
        """Run the teacher.

        Args:
            text_ids, text_mask: (B, L) transcript tokens.
            video_mask: (B,) bool, True where the clip has usable video.
            pixels: (B, T, 3, S, S) normalised frames, or
            frame_features, patch_features: (B, T, E) and (B, P, E) precomputed by
                :meth:`encode_frames` (frozen vision tower, cached features).
            transcript_mask: (B,) bool, False to hide a clip's transcript (modality dropout
                during training); default all True.
            text_hidden: (B, L, H) precomputed :meth:`TranscriptEncoder.hidden` states (frozen
                non-CLIP transcript encoder).
        """
        b = video_mask.shape[0]
        device = text_ids.device
        modalities: dict[str, _Modality] = {}
        if self.arch.use_video:
            if frame_features is None or patch_features is None:
                if pixels is None:
                    raise ValueError("a video teacher needs pixels or precomputed frame features")
                frame_features, patch_features = self.encode_frames(pixels)
            has_video = video_mask.to(device=device, dtype=torch.bool)
            modalities["video"] = _Modality(
                embedding=self.temporal(frame_features),
                present=has_video,
                tokens=patch_features,
                padding=(~has_video)[:, None].expand(-1, patch_features.shape[1]),
            )
        if self.arch.use_text:
            pooled, tokens = self.encode_transcript(text_ids, text_mask, text_hidden)
            keep = torch.ones(b, dtype=torch.bool, device=device)
            if transcript_mask is not None:
                keep = transcript_mask.to(device=device, dtype=torch.bool)
            modalities["transcript"] = _Modality(
                embedding=pooled,
                present=keep,
                tokens=tokens,
                padding=(text_mask == 0) | ~keep[:, None],
            )

        prompt_pooled, _ = self.encode_text(self.prompt_ids, self.prompt_mask)  # (K, E)
        return self._classify(list(modalities.values()), prompt_pooled)

    def _classify(self, modalities: list[_Modality], prompt_pooled: Tensor) -> TeacherOutput:
        """Fuse the given modalities, enhance the prompts over their tokens, score, regress."""
        weight = torch.stack([m.present.float() for m in modalities], dim=1)  # (B, M)
        stacked = torch.stack([F.normalize(m.embedding, dim=-1) for m in modalities], 1)
        query = (stacked * weight[..., None]).sum(1) / weight.sum(1, keepdim=True).clamp_min(1.0)
        b = query.shape[0]
        if self.arch.prompt_enhancement:
            context = torch.cat([m.tokens for m in modalities], 1)
            padding = torch.cat([m.padding for m in modalities], 1)
            prompts = self.enhancer(prompt_pooled, context, padding)
        else:
            prompts = prompt_pooled.unsqueeze(0).expand(b, -1, -1)

        cosine = torch.einsum(
            "be,bke->bk", F.normalize(query, dim=-1), F.normalize(prompts, dim=-1)
        )
        logits = self.logit_scale.clamp(max=math.log(100.0)).exp() * cosine
        return TeacherOutput(logits=logits, regression=self.head(logits))


@dataclass
class _Modality:
    """One input modality of a batch: embedding (B, E), present (B,) bool, tokens (B, N, E),
    padding (B, N) True = ignore."""

    embedding: Tensor
    present: Tensor
    tokens: Tensor
    padding: Tensor
