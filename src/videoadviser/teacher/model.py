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
from transformers.masking_utils import create_bidirectional_mask

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


# Encoders whose forward is exactly embeddings -> layers -> last state, which is what running
# their layers in two parts (below the tuned ones, then the tuned ones) reproduces. Others
# (ELECTRA's embedding projection, DeBERTa's relative embeddings) do more between them.
LAYERED_ENCODERS = frozenset({"bert", "roberta", "xlm-roberta", "camembert", "mpnet"})


def encoder_layers(encoder: PreTrainedModel) -> nn.ModuleList:
    """The transformer layers of a text encoder whose forward is its embeddings then these
    layers (:data:`LAYERED_ENCODERS`: BERT, MiniLM, RoBERTa, MPNet...), the only kind whose
    layers may be run in two parts."""
    kind = getattr(encoder.config, "model_type", "")
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    if kind not in LAYERED_ENCODERS or not isinstance(layers, nn.ModuleList):
        raise ValueError(
            f"teacher.transcript_tuned_layers needs an encoder whose forward is its embeddings "
            f"then its layers ({', '.join(sorted(LAYERED_ENCODERS))}); this one is {kind!r} "
            f"({type(encoder).__name__}): set teacher.transcript_tuned_layers = 0"
        )
    return layers


class TranscriptEncoder(nn.Module):
    """A pretrained text encoder for transcripts, projected into the CLIP joint space.

    Split in two so the frozen part runs once per clip: :meth:`hidden` gives the token states
    ``(B, L, H)`` entering the top ``tuned_layers`` layers (with none tuned, the last hidden
    states; precomputable when what produces them is frozen), :meth:`forward` runs the tuned
    layers, projects the tokens and pools them: a masked mean, or (``pooling="attention"``)
    a learned masked softmax over tokens that starts as the mean.
    """

    def __init__(
        self, encoder: PreTrainedModel, dim: int, tuned_layers: int = 0, pooling: str = "mean"
    ) -> None:
        super().__init__()
        if pooling not in ("mean", "attention"):
            raise ValueError(f"transcript pooling {pooling!r} is not one of mean, attention")
        self.encoder = encoder
        self.tuned_layers = tuned_layers
        self.tune_top = True  # False: the tuned layers run without gradients (frozen again)
        # True: the states given to forward already went through the tuned layers (once they
        # are frozen, training caches their output instead of running them every step)
        self.folded = False
        if tuned_layers:
            total = len(encoder_layers(encoder))
            if not 0 < tuned_layers <= total:
                raise ValueError(
                    f"teacher.transcript_tuned_layers = {tuned_layers}: the transcript encoder "
                    f"has {total} layers; give 0..{total}"
                )
        self.projection = nn.Linear(encoder.config.hidden_size, dim, bias=False)
        # attention pooling's token scores, zero (the mean) at the start; no random draw, so
        # the modules built after it start from the same weights with either pooling
        self.pool_score = nn.Parameter(torch.zeros(dim)) if pooling == "attention" else None

    @property
    def split(self) -> int:
        """How many of the encoder's layers lie below the tuned ones."""
        if not self.tuned_layers:
            return -1
        return len(encoder_layers(self.encoder)) - self.tuned_layers

    def frozen_part(self) -> dict[str, Tensor]:
        """The weights :meth:`hidden` depends on (a cache of its states is keyed by them)."""
        state = self.encoder.state_dict()
        if not self.tuned_layers:
            return state
        total = len(encoder_layers(self.encoder))
        tuned = tuple(f"encoder.layer.{i}." for i in range(self.split, total))
        return {k: v for k, v in state.items() if not k.startswith(tuned)}

    def hidden(self, ids: Tensor, mask: Tensor) -> Tensor:
        """ids, mask (B, L) -> the states entering the tuned layers (B, L, H).

        With tuned layers only the embeddings and the layers below them run (the tuned ones
        run in :meth:`top`), not the whole encoder."""
        if not self.tuned_layers:
            return self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        states = self.encoder.embeddings(input_ids=ids)
        return self._run_layers(states, mask, encoder_layers(self.encoder)[: self.split])

    def top(self, hidden: Tensor, mask: Tensor) -> Tensor:
        """Run the tuned layers: hidden (B, L, H), mask (B, L) -> (B, L, H)."""
        if not self.tuned_layers:
            return hidden
        layers = encoder_layers(self.encoder)[self.split :]
        if not self.tune_top:  # frozen again: no gradients, no dropout (as a cache holds)
            layers.eval()
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.tune_top):
            hidden = self._run_layers(hidden, mask, layers)
        if not self.tune_top:
            layers.train(self.training)
        return hidden

    def _run_layers(self, hidden: Tensor, mask: Tensor, layers: nn.ModuleList) -> Tensor:
        """Run some of the encoder's layers as its own forward would: hidden (B, L, H),
        mask (B, L) -> (B, L, H)."""
        if not len(layers):
            return hidden
        attention = create_bidirectional_mask(
            config=self.encoder.config, inputs_embeds=hidden, attention_mask=mask
        )
        stack = self.encoder.encoder
        extra = ()  # MPNet's layers also take its relative position bias
        if hasattr(stack, "compute_position_bias"):
            extra = (stack.compute_position_bias(hidden),)
        for layer in layers:
            out = layer(hidden, attention, *extra)
            hidden = out[0] if isinstance(out, tuple) else out
        return hidden

    def forward(self, hidden: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """hidden (B, L, H) from :meth:`hidden`, mask (B, L) -> pooled (B, E), tokens (B, L, E)."""
        tokens = self.projection(hidden if self.folded else self.top(hidden, mask))
        keep = mask.bool().unsqueeze(-1)  # (B, L, 1)
        if self.pool_score is None:
            weights = keep.to(tokens.dtype)
            return (tokens * weights).sum(1) / weights.sum(1).clamp_min(1.0), tokens
        scores = (tokens @ self.pool_score).unsqueeze(-1).float().masked_fill(~keep, float("-inf"))
        weights = torch.nan_to_num(scores.softmax(dim=1)).to(tokens.dtype)  # no tokens: zero
        return (tokens * weights).sum(1), tokens


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
    transcript_tuned_layers: int = 0  # a pretrained encoder's top layers that are tuned
    transcript_pooling: str = "mean"  # mean | attention (a pretrained encoder's tokens)
    fusion: str = "mean"  # mean | gated: how video and transcript embeddings make the query


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
        self.transcript = None
        if transcript_encoder is not None:
            self.transcript = TranscriptEncoder(
                transcript_encoder, dim, arch.transcript_tuned_layers, arch.transcript_pooling
            )

        heads = max(1, dim // 64)
        self.temporal = TemporalIntegration(dim, arch.num_frames, arch.temporal_layers, heads)
        self.enhancer = PromptEnhancer(dim, arch.cross_layers, heads, arch.alpha_init)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.head = RegressionHead(arch.num_classes, arch.head)
        if arch.fusion not in ("mean", "gated"):
            raise ValueError(f"fusion {arch.fusion!r} is not one of mean, gated")
        # gated fusion: per-clip modality weights from both embeddings (zero init: the mean);
        # made last, so that the other modules draw the same initial weights either way
        self.gate = None
        if arch.fusion == "gated" and arch.use_video and arch.use_text:
            self.gate = nn.Linear(2 * dim, 2)
            nn.init.zeros_(self.gate.weight)
            nn.init.zeros_(self.gate.bias)
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
            keep = torch.ones(b, dtype=torch.bool, device=device)
            if transcript_mask is not None:
                keep = transcript_mask.to(device=device, dtype=torch.bool)
            pooled, tokens = self._shown_transcripts(keep, text_ids, text_mask, text_hidden)
            modalities["transcript"] = _Modality(
                embedding=pooled,
                present=keep,
                tokens=tokens,
                padding=(text_mask == 0) | ~keep[:, None],
            )

        prompt_pooled, _ = self.encode_text(self.prompt_ids, self.prompt_mask)  # (K, E)
        return self._classify(list(modalities.values()), prompt_pooled)

    def _shown_transcripts(
        self, keep: Tensor, ids: Tensor, mask: Tensor, hidden: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """Encode the transcripts for ``keep`` (B,) bool: pooled (B, E), tokens (B, L, E).

        With tuned layers on cached states (costly per transcript) only the transcripts shown
        are encoded (modality dropout hides most of them in training), zeros where hidden;
        otherwise every row is encoded as before, and the masks ignore the hidden ones."""
        tuned = self.transcript is not None and self.transcript.tuned_layers > 0
        if bool(keep.all()) or not tuned:
            return self.encode_transcript(ids, mask, hidden)
        b, dim = keep.shape[0], self.clip.config.projection_dim
        if not bool(keep.any()):  # e.g. the video-first epochs: no encoder runs at all
            return ids.new_zeros(b, dim, dtype=torch.float), ids.new_zeros(
                b, ids.shape[1], dim, dtype=torch.float
            )
        rows = keep.nonzero().squeeze(1)
        pooled, tokens = self.encode_transcript(
            ids[rows], mask[rows], None if hidden is None else hidden[rows]
        )
        return (
            pooled.new_zeros(b, *pooled.shape[1:]).index_copy(0, rows, pooled),
            tokens.new_zeros(b, *tokens.shape[1:]).index_copy(0, rows, tokens),
        )

    def _classify(self, modalities: list[_Modality], prompt_pooled: Tensor) -> TeacherOutput:
        """Fuse the given modalities, enhance the prompts over their tokens, score, regress."""
        present = torch.stack([m.present for m in modalities], dim=1)  # (B, M)
        stacked = torch.stack([F.normalize(m.embedding, dim=-1) for m in modalities], 1)
        if self.gate is None:  # the mean of the modalities present
            weight = present.float()
            query = (stacked * weight[..., None]).sum(1) / weight.sum(1, keepdim=True).clamp_min(1)
        else:  # softmax over the modalities present; none present: all weights zero
            scores = self.gate(stacked.flatten(1)).float().masked_fill(~present, float("-inf"))
            weight = torch.nan_to_num(scores.softmax(dim=1)).to(stacked.dtype)
            query = (stacked * weight[..., None]).sum(1)  # (B, E)
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
