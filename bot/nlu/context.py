"""Decisions in a conversation's context (issue 20): "et pour un médecin ?" right after an answer
about who must join is a question about who must join.

The NLU decides every message alone and leaves in the parse result what a later decision in
context needs (`context_evidence`). The action that replies knows the conversation: when the
assistant's last answer came from a topic a few turns ago and the message has the form of a
follow-up, `decide_in_context` adds a weight to that topic's score and decides again with the
same thresholds. A follow-up that names another topic strongly enough ("et je paie où ?" after an
amount) still goes to that topic. The weight and the follow-up gate are fitted by `sanad
calibrate` (bot/tooling/calibration.py), like every other threshold."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from bot.nlu.decision import OUT_OF_SCOPE, Decision, Thresholds, combined_topic_scores, decide_on_scores
from bot.nlu.followup import (ASPECT_OF_CONTEXT, ASPECT_TOPICS, SCORE_FOLLOWS_CONTEXT, aspect_topic, followup_form,
                              moved_to_context)

# A topic answered more than this many citizen messages ago no longer counts.
CONTEXT_TURNS = 3
# The decisions a context may revisit; direct intents (greet, balance, cancel...) stay as they are.
_REVISABLE = ("answer", "clarify", OUT_OF_SCOPE)


def context_evidence(text: str, intent_ranking: List[Dict[str, Any]], kb_ranking: List[Dict[str, Any]],
                     thresholds: Thresholds, lang: str) -> Dict[str, Any]:
    """What the decision in context reads of a message, computed by the NLU: its form, the
    classifier's out-of-scope probability and every topic's combined score (not only the top 3)."""
    scores = combined_topic_scores(intent_ranking, kb_ranking, thresholds.for_lang(lang))
    out_of_scope_p = next((float(r["confidence"]) for r in intent_ranking if r["name"] == OUT_OF_SCOPE), 0.0)
    return {"followup": followup_form(text), "out_of_scope_p": round(out_of_scope_p, 4),
            "scores_by_topic": {s["topic"]: s["score"] for s in scores}}


def is_followup(block: Dict[str, Any], t: Thresholds, context_topic: Optional[str] = None) -> bool:
    """Opening with a cue (not after an interjection: bot/nlu/followup.py INTERJECTIONS) and
    naming a person (without a question word); or short, and either
    opening with a cue or left unanswered alone, and not clearly out of scope; with a question
    word, also leaning by itself on the topic it asks about. A short question whose answer alone
    comes from its question word only (followup.SCORE_FOLLOWS_CONTEXT: "c obligatoire ?" after a
    pension answer) needs no cue."""
    form = block.get("followup") or {}
    if block.get("decision") not in _REVISABLE:
        return False
    aspect = form.get("aspect")
    if form.get("cue") and not form.get("interjection") and not aspect and names_a_person(block, t):
        return True
    # A bare "and how?" has no topic of its own to lean on (bot/nlu/followup.py BARE_HOW).
    if aspect in ASPECT_TOPICS and own_aspect_score(block, aspect) < t.aspect_own_min:
        return False
    max_words = t.question_max_words if aspect else t.followup_max_words
    if form.get("content_words", form.get("words", max_words + 1)) > max_words:
        return False
    if not form.get("cue") and block.get("decision") == "answer" and not answered_by_its_word(block, context_topic):
        return False
    oos_max = t.aspect_oos_max if form.get("aspect") else t.followup_oos_max
    return float(block.get("out_of_scope_p", 0.0)) < oos_max


def answered_by_its_word(block: Dict[str, Any], context_topic: Optional[str]) -> bool:
    """Whether the message's answer alone is the usual topic of its question word, a word that
    after `context_topic` asks about that topic itself (SCORE_FOLLOWS_CONTEXT): "c obligatoire ?"
    is eligibility alone only because of "obligatoire"."""
    aspect = (block.get("followup") or {}).get("aspect")
    return ((aspect, context_topic) in SCORE_FOLLOWS_CONTEXT
            and block.get("label") == ASPECT_TOPICS.get(aspect))


def own_aspect_score(block: Dict[str, Any], aspect: str) -> float:
    """The message's own combined score for the topic its question word asks about."""
    topic = ASPECT_TOPICS.get(aspect)
    return float((block.get("scores_by_topic") or {}).get(topic, 0.0)) if topic else 0.0


def names_a_person(block: Dict[str, Any], t: Thresholds) -> bool:
    """Whether the message is about somebody (bot/nlu/persons.py), from the fitted probability."""
    probability = block.get("person_p")
    answered_alone = (block.get("decision") == "answer"
                      and float(block.get("confidence", 0.0)) >= t.person_answer_max)
    return (probability is not None and float(probability) >= t.person_min and not answered_alone
            and float(block.get("out_of_scope_p", 0.0)) < t.person_oos_max)


def weighted_scores(block: Dict[str, Any], context_topic: str, t: Thresholds) -> Dict[str, float]:
    """The message's own topic scores plus the context's weights: the conversation's topic, and
    for a question word the topic of the aspect it asks about ("w fin?" after an amount: where to
    pay), each with its own fitted weight. "Mandatory?" after a pension answer first moves its
    eligibility score to the pension (followup.SCORE_FOLLOWS_CONTEXT)."""
    aspect = (block.get("followup") or {}).get("aspect")
    scores = moved_to_context(dict(block.get("scores_by_topic") or {}), aspect, context_topic)
    weight = t.question_context_weight if aspect else t.context_weight
    scores[context_topic] = scores.get(context_topic, 0.0) + weight
    asked = aspect_topic(aspect, context_topic)
    if asked:
        scores[asked] = scores.get(asked, 0.0) + t.aspect_weight
    return scores


def stays_on_choice(block: Dict[str, Any], t: Thresholds) -> bool:
    """Whether the message right after a clarification's choice leans on the chosen topic: any
    message the context may revisit, unless the classifier puts it out of scope confidently."""
    return (t.choice_weight > 0 and block.get("decision") in _REVISABLE
            and float(block.get("out_of_scope_p", 0.0)) < t.choice_oos_max)


def chosen_scores(block: Dict[str, Any], chosen_topic: str, t: Thresholds) -> Dict[str, float]:
    """The message's own topic scores plus `choice_weight` on the topic just chosen, and, when a
    question word asks about an aspect the chosen topic itself covers (ASPECT_OF_CONTEXT: "is it
    mandatory?" right after choosing the pension), the aspect's weight on it too, as after an
    answer (`weighted_scores`). An aspect of another topic adds nothing here: "et combien ?" after
    choosing payment channels is left to the clarification rules (`settled_by_choice`). As after an
    answer, the pairs of followup.SCORE_FOLLOWS_CONTEXT first move the aspect's usual topic's
    score to the chosen topic."""
    aspect = (block.get("followup") or {}).get("aspect")
    scores = moved_to_context(dict(block.get("scores_by_topic") or {}), aspect, chosen_topic)
    scores[chosen_topic] = scores.get(chosen_topic, 0.0) + t.choice_weight
    if ASPECT_OF_CONTEXT.get((aspect, chosen_topic)) == chosen_topic:
        scores[chosen_topic] += t.aspect_weight
    return scores


def leans_on_offer(block: Dict[str, Any], t: Thresholds) -> bool:
    """Whether the message typed right after a clarification is read among the topics it offered:
    any message the context may revisit, unless the classifier puts it out of scope confidently."""
    return (t.offered_weight > 0 and block.get("decision") in _REVISABLE
            and float(block.get("out_of_scope_p", 0.0)) < t.offered_oos_max)


def decide_among_offered(block: Dict[str, Any], offered: List[str], t: Thresholds) -> Decision:
    """The decision with `offered_weight` added to each topic the clarification just before offered.
    The best of them needs no support of its own in the knowledge base ("w l-coiffeur?" matches no
    entry alone), as the conversation's topic does not."""
    scores = dict(block.get("scores_by_topic") or {})
    for topic in offered:
        scores[topic] = scores.get(topic, 0.0) + t.offered_weight
    ranked = _ranked(scores)
    best = ranked[0]["topic"] if ranked else None
    return decide_on_scores(ranked, block.get("kb_ranking") or [], t,
                            needs_no_kb_support=best if best in offered else None)


def _ranked(scores: Dict[str, float]) -> List[Dict[str, Any]]:
    return sorted(({"topic": topic, "score": round(score, 4)} for topic, score in scores.items()),
                  key=lambda s: s["score"], reverse=True)


def decide_in_context(block: Dict[str, Any], context_topic: Optional[str], thresholds: Thresholds,
                      lang: str, just_chosen: bool = False, offered: List[str] = ()) -> Optional[Decision]:
    """The decision on a follow-up given the conversation's topic, or None when the message is
    decided alone (no context, no weight, or not a follow-up). `block` is the parse result's
    `sanad` part: the NLU's own decision, `context_evidence` and the KB ranking. `just_chosen`:
    the citizen picked `context_topic` on a clarification's button the turn before. `offered`: the
    topics of a clarification the assistant gave just before, which the citizen answered by typing
    (the most recent context: it comes before an older answer's topic)."""
    t = thresholds.for_lang(lang)
    if len(offered) >= 2 and leans_on_offer(block, t):
        return decide_among_offered(block, list(offered), t)
    if not context_topic:
        return None
    if t.context_weight > 0 and is_followup(block, t, context_topic):
        scores = weighted_scores(block, context_topic, t)
    elif just_chosen and stays_on_choice(block, t):
        scores = chosen_scores(block, context_topic, t)
    else:
        return None
    return decide_on_scores(_ranked(scores), block.get("kb_ranking") or [], t, needs_no_kb_support=context_topic)


def settled_by_context(kind: Optional[str], offered: List[str], block: Dict[str, Any],
                       context_topic: Optional[str], t: Thresholds) -> bool:
    """Whether a clarification (`kind`) offering `offered` is settled by the conversation's recent
    topic (`context_settles`): the same rule as a choice's (`settled_by_choice`)."""
    return (t.context_settles >= 1 and bool(context_topic) and kind == "clarify"
            and settled_by_choice(block, list(offered), context_topic))


def settled_by_aspect(kind: Optional[str], offered: List[str], block: Dict[str, Any],
                      context_topic: Optional[str], t: Thresholds) -> Optional[str]:
    """The topic a clarification (`kind`) offering `offered` is settled on by the message's
    question word, after an answer from the conversation's recent topic (`aspect_settles`): the
    topic that word asks about there, when it is one of the choices and not the conversation's
    topic itself ("ok et je paie où ça ?" after an amount: payment channels, not the amount)."""
    if t.aspect_settles < 1 or kind != "clarify" or not context_topic:
        return None
    asked = aspect_topic((block.get("followup") or {}).get("aspect"), context_topic)
    return asked if asked and asked != context_topic and asked in offered else None


def settled_topic(kind: Optional[str], offered: List[str], block: Dict[str, Any],
                  context_topic: Optional[str], t: Thresholds) -> Optional[str]:
    """The topic that settles a clarification (`kind`) about to offer `offered`, given the
    conversation's recent topic: the one the message's question word asks about there
    (`settled_by_aspect`), else that recent topic itself (`settled_by_context`); None when it
    still asks. One rule for actions/faq.py reply_to and the calibration that fits it."""
    asked = settled_by_aspect(kind, offered, block, context_topic, t)
    if asked:
        return asked
    return context_topic if settled_by_context(kind, offered, block, context_topic, t) else None


def settled_by_choice(block: Dict[str, Any], offered: List[str], chosen_topic: str) -> bool:
    """Whether a clarification about to offer `offered` is settled by the topic the citizen just
    chose on a clarification's button: they have already said which they mean ("التقاعد" ->
    Retirement -> "وكم سنة يجب أن أشتغل؟" would offer eligibility or retirement again). Not when
    the message's question word asks about another offered topic ("et combien ?" after choosing
    payment channels, between the amount and payment channels, still asks). A rule, not a
    weight: it only picks among the topics the clarification itself would offer."""
    if chosen_topic not in offered:
        return False
    asked = aspect_topic((block.get("followup") or {}).get("aspect"), chosen_topic)
    return not (asked and asked != chosen_topic and asked in offered)
