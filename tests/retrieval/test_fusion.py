"""Fusion keeps what each ranking knows."""

from __future__ import annotations

from retrieval.fusion import reciprocal_rank_fusion, score_fusion


def test_rrf_rewards_agreement_and_breaks_ties_by_id() -> None:
    fused = reciprocal_rank_fusion(rankings=[[1, 2, 3], [2, 1, 4]])
    assert [item for item, _ in fused][:2] == [1, 2]  # equal scores: the lower id first
    assert fused[0][1 - 1] == 1 and fused[0][1] == fused[1][1]
    weighted = reciprocal_rank_fusion(rankings=[[1, 2], [2, 1]], weights=[0.2, 0.8])
    assert weighted[0][0] == 2


def test_score_fusion_keeps_a_clear_lexical_winner_ahead() -> None:
    dense = [(10, 0.61), (11, 0.60), (12, 0.59), (13, 0.30)]  # flat at the top
    lexical = [(12, 25.0), (10, 6.0), (14, 5.0)]  # chunk 12 matched a rare term
    fused = score_fusion(scored=[dense, lexical], weights=[0.5, 0.5])
    assert fused[0][0] == 12
    assert {item for item, _ in fused} == {10, 11, 12, 13, 14}
    assert score_fusion(scored=[dense, []], weights=[0.5, 0.5])[0][0] == 10
