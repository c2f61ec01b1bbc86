"""The prompt-injection heuristics as data: anchored patterns and two weights per rule.

Each rule starts with one of its `leads` (lower-case words or phrases; the scanner
finds them all in one keyword pass) and continues with `rest`, a pattern matched
right there on the lower-cased folded text. `direct` weighs a match in what the user
typed; `indirect` in text the model reads on someone else's behalf (tool results,
retrieved pages, e-mails), where any instruction aimed at the model is suspect.
Several rules may share a name (alternative phrasings); a name counts once.

Concepts are shared by Chinese, English and code-switched text, so "忽略previous指令"
matches like "ignore previous instructions". ASCII leads must stand alone as words
(checked around the lead), because \\b does not separate "请ignore之前".
"""

# ruff: noqa: E501  (the rule table reads best with one rule per line)

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rule:
    """One heuristic (see module docstring)."""

    name: str
    leads: tuple[str, ...]
    rest: str
    direct: float
    indirect: float
    #: match on the original-case text (the lead itself stays case-insensitive)
    cased: bool = False
    #: a pattern the text just before the lead must end with
    before: str | None = None


def _alt(*words: str) -> str:
    parts = []
    for word in sorted(words, key=len, reverse=True):
        body = word.replace(" ", r"\s+")
        parts.append(body + r"(?![a-z])" if word[-1:].isascii() and word[-1:].isalpha() else body)
    return "(?:" + "|".join(parts) + ")"


IGNORE = (
    "ignore", "ignores", "disregard", "forget", "skip", "override", "overrule", "abandon",
    "stop following", "do not follow", "don't follow", "no longer follow", "bypass",
    "忽略", "无视", "忘记", "忘掉", "忽视", "不要理会", "不用理会", "别管", "抛开", "丢弃",
    "不用遵守", "不要遵守", "不必遵守", "不需要遵守", "不再遵守", "覆盖", "推翻",
)  # fmt: skip
PRIOR = _alt(
    "previous", "prior", "above", "earlier", "preceding", "foregoing", "initial", "original",
    "system", "all", "any", "every", "existing", "your", "safety", "content",
    "之前", "以上", "上面", "上述", "前面", "先前", "此前", "原来", "原有", "原先", "最初",
    "所有", "全部", "一切", "系统", "你的", "安全",
)  # fmt: skip
INSTR = _alt(
    "instruction", "instructions", "prompt", "prompts", "rules", "guidelines", "directions",
    "directives", "context", "constraints", "restrictions", "policies", "guardrails",
    "programming", "system prompt", "system message",
    "指令", "指示", "提示词", "提示", "规则", "要求", "设定", "约束", "限制", "命令", "规定",
    "政策", "准则", "安全策略", "策略",
)  # fmt: skip
AI_WORDS = (
    "ai", "llm", "llms", "gpt", "chatgpt", "claude", "assistant", "agent", "agents", "model",
    "bot", "chatbot", "language model", "ai assistant", "ai agents", "copilot",
    "ai助手", "人工智能", "大模型", "模型", "助手", "智能体", "机器人",
)  # fmt: skip
AI = _alt(*AI_WORDS)
PERSONA = (
    "you are", "you're", "act as", "pretend", "roleplay as", "play the role of",
    "imagine you are", "假设你是", "扮演", "你现在是", "你是一个", "你的新身份", "从现在开始你",
    "从现在起你",
)  # fmt: skip
WITHOUT = _alt(
    "no", "without", "free from", "not bound by", "不受任何", "没有任何", "没有", "不受", "无需遵守"
)
LIMITS = _alt(
    "restrictions", "restriction", "rules", "limits", "limitations", "filters", "filter",
    "guidelines", "censorship", "ethics", "morals", "限制", "约束", "规则", "审查", "过滤", "底线",
)  # fmt: skip
REVEAL = (
    "reveal", "print", "show", "output", "display", "repeat", "leak", "dump", "tell me",
    "give me", "share", "translate", "list", "write out", "spell out", "recite", "输出", "打印",
    "显示", "泄露", "泄漏", "告诉我", "重复", "给我", "列出", "翻译", "展示", "透露", "发给我",
)  # fmt: skip
HIDDEN_PROMPT = _alt(
    "system prompt", "system message", "system instructions", "initial instructions",
    "initial prompt", "hidden instructions", "hidden prompt", "original instructions",
    "developer message", "raw system message", "hidden configuration", "your instructions",
    "your configuration", "your prompt", "instructions you were given", "系统提示词", "系统提示",
    "系统指令", "系统消息", "初始指令", "最初的提示词", "最初的指令", "隐藏指令", "原始指令",
    "你的指令", "你的提示词", "你的配置", "你的设定",
)  # fmt: skip
PROMPT_FIRST = (
    "system prompt", "hidden instructions", "initial instructions", "系统提示词", "系统提示",
    "系统指令", "隐藏指令", "初始指令", "你的提示词", "最初的提示词", "你的配置",
)  # fmt: skip
REVEAL_AFTER = _alt(
    "输出", "打印", "显示", "告诉我", "发给我", "翻译", "泄露", "print", "output", "show"
)
EARLIER_ZH = ("以上", "之前", "上面", "先前", "原有", "此前", "原来")
RULES_ZH = ("指令", "规则", "设定", "要求", "限制", "指示")
DROP_ZH = _alt("忽略", "无视", "作废", "不用遵守", "不必遵守")
EVADE = ("bypass", "circumvent", "disable", "turn off", "evade", "get around", "ignore")
SAFEGUARDS = _alt(
    "filter", "filters", "guardrails", "safeguards", "moderation", "content policy",
    "safety policy", "safety rules", "safety guidelines", "safety checks", "safety protocols",
)  # fmt: skip
DATA_ZH = (
    "聊天记录",
    "对话",
    "通讯录",
    "密码",
    "密钥",
    "手机号",
    "个人信息",
    "数据",
    "文件内容",
    ".env",
    "配置",
)
_GAP = r"[^.;。；!！?？\n]{0,30}?"
_SHORT = r"[^.;。；!！?？\n]{0,12}?"

RULES: tuple[Rule, ...] = (
    # instruction override: "ignore all previous instructions", "忽略之前的所有指令"
    Rule("override-instructions", IGNORE, rf"{_GAP}{PRIOR}{_GAP}{INSTR}", 0.85, 0.9),
    Rule("override-instructions", IGNORE, rf"{_SHORT}{INSTR}{_SHORT}{PRIOR}", 0.8, 0.85),
    Rule("ignore-instructions-weak", IGNORE, rf"{_SHORT}{INSTR}", 0.4, 0.6),
    Rule("ignore-the-above", ("ignore", "disregard", "forget"), r"\s+(?:all\s+|everything\s+)?(?:of\s+)?(?:the\s+|that\s+|what(?:ever)?\s+(?:is|was)\s+)?(?:above|before)(?=\s*(?:and|[.,;:!]|$))", 0.75, 0.8),
    Rule("forget-everything", ("forget",), r"\s+(?:about\s+)?(?:everything|all)(?:\s+that)?\s+(?:you\s+(?:were|have\s+been)\s+told|you\s+know|above|before)", 0.75, 0.8),
    Rule("instructions-void", EARLIER_ZH, rf"的?(?:所有|全部)?{_alt(*RULES_ZH)}[^。！？\n]{{0,4}}(?:都|全部|已经|已)?(?:作废|失效|无效|不算数|不再有效|取消)", 0.85, 0.85),
    Rule("instructions-then-ignore", RULES_ZH, rf"[^。！？\n]{{0,12}}(?:可以|都|请|必须|应该)?{DROP_ZH}", 0.75, 0.8),
    Rule("instructions-were-test", ("previous", "prior", "earlier", "your"), r"\s+instructions\s+(?:are|were)\s+(?:void|cancelled|canceled|fake|just\s+a\s+test|no\s+longer\s+valid)", 0.8, 0.85),
    # role play without rules: "you are now an AI without any restrictions"
    Rule("persona-unrestricted", PERSONA, rf"[^\n]{{0,60}}?{WITHOUT}\s*(?:any\s+|ethical\s+|moral\s+|道德|伦理|任何)?{LIMITS}", 0.85, 0.85),
    Rule("unrestricted-model", ("unrestricted", "unfiltered", "uncensored", "jailbroken", "unlimited"), r"\s+(?:ai|model|mode|assistant|version|chatbot|llm)(?![a-z])", 0.7, 0.7),
    Rule("unrestricted-model", ("无限制", "不受限制", "无审查", "没有审查", "不受约束", "无约束", "没有任何限制"), r"的?(?:模式|模型|ai|助手|人工智能|状态)", 0.7, 0.7),
    Rule("no-restrictions-zh", ("不受任何", "没有任何", "不受"), r"[^，,。\n]{0,8}(?:限制|约束|规则|审查)", 0.55, 0.55),
    Rule("is-now-unrestricted", ("is now", "are now"), r"\s+(?:unrestricted|unfiltered|uncensored|jailbroken|free\s+of)", 0.6, 0.7),
    Rule("dan", ("dan",), r"(?<=DAN)(?![A-Za-z])\s*(?:[Mm]ode|MODE|模式)", 0.8, 0.8, cased=True),
    Rule("dan", ("do anything now",), "", 0.8, 0.8),
    Rule("dan", ("you are", "你现在是", "你是"), r"\s*DAN(?![A-Za-z])", 0.8, 0.8, cased=True),
    Rule("developer-mode", ("you are", "you're"), r"\s+(?:now\s+)?in\s+(?:developer|dev|god|debug)\s+mode", 0.45, 0.55),
    Rule("developer-mode", ("enter", "entering", "switch to"), r"\s+(?:developer|dev|god|debug)\s+mode", 0.45, 0.55),
    Rule("developer-mode", ("developer mode", "dev mode"), r"\s+(?:enabled|activated|on)(?![a-z])", 0.45, 0.55),
    Rule("developer-mode", ("进入", "开启", "启用", "切换到"), r"了?(?:开发者|上帝|越狱|调试)模式", 0.45, 0.55),
    Rule("jailbroken", ("jailbroken", "越狱成功", "越狱模式", "已越狱"), "", 0.7, 0.7),
    Rule("jailbroken", ("jailbreak",), r"\s+(?:successful|enabled|mode|activated)", 0.7, 0.7),
    # system prompt extraction: "print your system prompt", "输出你的系统提示词"
    Rule("reveal-prompt", REVEAL, rf"{_GAP}{HIDDEN_PROMPT}", 0.8, 0.8),
    Rule("reveal-prompt", PROMPT_FIRST, rf"[^。！？\n]{{0,12}}{REVEAL_AFTER}", 0.8, 0.8),
    Rule("reveal-prompt", ("what were your", "what are your"), r"\s+(?:initial|original|system|hidden|first)\s+(?:instructions|prompt)", 0.75, 0.75),
    Rule("repeat-above", ("repeat",), r"\s+(?:the\s+|all\s+)?(?:text|words|content|everything|messages?)\s+above", 0.4, 0.5),
    Rule("verbatim", ("starting with",), r"\s+['\"“]?you\s+are", 0.35, 0.35),
    Rule("verbatim", ("word for word", "verbatim", "逐字", "一字不差", "原封不动"), "", 0.35, 0.35),
    # fake turns and markers: "SYSTEM:", "<|im_start|>system", "【系统通知】"
    Rule("fake-system-turn", ("system",), r"(?<=SYSTEM|System)\s*(?:#{2,}|:|：)", 0.5, 0.7, cased=True, before=r"(?:^|[\n\"'(\[{>])[ \t]*(?:#{2,}[ \t]*)?"),
    Rule("fake-system-turn", ("<|im_start|>",), r"\s*system", 0.5, 0.7),
    Rule("fake-system-turn", ("<system>", "</system>", "[system]", "[/system]", "[inst]", "[/inst]", "[instructions]", "[/instructions]", "system override", "<tool_result>", "</tool_result>", "<function_results>", "</function_results>"), "", 0.5, 0.7),
    Rule("fake-system-turn", ("###",), r"\s*(?:system|instruction)", 0.5, 0.7),
    Rule("fake-system-turn", ("【系统", "【隐藏指令】", "【ai指令】"), r"(?:通知|指令|消息)?】?", 0.5, 0.7),
    Rule("new-instructions", ("new instruction", "new instructions", "new task", "new rules", "new policy", "new directive", "new role", "new objective", "updated instructions", "real instructions", "actual instructions", "true instructions"), rf"(?:\s+for\s+(?:the\s+|this\s+|any\s+|all\s+)?{AI})?\s*(?::|：|are|is)", 0.5, 0.7),
    Rule("new-instructions", ("新指令", "新的指令", "新的任务", "真正的指令", "新任务", "新规则"), r"[:：是]", 0.5, 0.7),
    Rule("new-instructions", ("your new",), r"\s+(?:task|role|job|objective|purpose)\s+is", 0.5, 0.7),
    # instructions aimed at the model inside content
    Rule("note-to-ai", ("note", "message", "instruction", "instructions", "attention", "reminder", "hidden text"), rf"\s+(?:to|for)\s+(?:any\s+|all\s+|the\s+)?(?:{AI}|reviewers?)", 0.5, 0.8),
    Rule("if-you-are-ai", ("if you are", "if you're", "when you are", "when you're"), rf"\s+(?:an?\s+)?{AI}", 0.35, 0.75),
    Rule("ai-imperative", AI_WORDS, r"\s*[,:：]\s*(?:please\s+)?(?:ignore|disregard|forget|you\s+must|you\s+should|always|never|do\s+not|don't|delete|send|forward|call|execute|run|reply|say|include|if\s+you)", 0.35, 0.75),
    Rule("when-ai-reads", ("when",), rf"\s+(?:an?\s+|the\s+|any\s+)?{AI}\s+(?:reads|summari[sz]es|processes|sees|parses)", 0.3, 0.75),
    Rule("to-ai-zh", ("给", "致"), rf"\s*{AI}[^，,。\n]{{0,6}}(?:的)?(?:指示|指令|说明|提示|注意|[:：])", 0.45, 0.8),
    Rule("ai-must-zh", AI_WORDS, r"\s*(?:请|你|必须|应当|应该|需要)\s*(?:注意|忽略|无视|把|将|立即|执行|调用|删除|发送|忘记)", 0.35, 0.75),
    Rule("ai-reading-zh", ("读到", "看到", "处理", "读取"), rf"(?:这段|本段|本|此|这个|该)(?:文字|内容|文件|文档|邮件|网页)的?{AI}", 0.45, 0.8),
    Rule("ai-reading-zh", AI_WORDS, r"[^，,。\n]{0,6}(?:在)?(?:读到|看到|处理|总结|读取)(?:本|此|这)", 0.45, 0.8),
    Rule("todo-ai", ("todo(", "note(", "fixme("), r"(?:ai|llm|agent|assistant|copilot|bot)\)", 0.3, 0.6),
    Rule("secrecy", ("do not", "don't", "never", "without"), r"\s+(?:tell|telling|inform|informing|mention|mentioning|reveal|revealing|let)\s+(?:this\s+|it\s+)?(?:to\s+)?(?:the\s+user|user|them)(?![a-z])", 0.3, 0.65),
    Rule("secrecy", ("never mention",), r"\s+(?:it|this)(?![a-z])", 0.3, 0.65),
    Rule("secrecy", ("不要", "别", "切勿", "不得", "不能"), r"(?:告诉|通知|提醒|让)用户", 0.3, 0.65),
    Rule("send-user-data", ("send", "forward", "upload", "post", "posts", "email", "transmit", "exfiltrate", "leak", "export"), r"\s+(?:all\s+)?(?:of\s+)?(?:the\s+|their\s+|this\s+)?(?:user'?s?\s+)?(?:\w+\s+){0,2}?(?:conversation|chat\s+history|chat|emails|cookies|credentials|passwords?|api\s+keys?|tokens?|secrets|contacts|address\s+book|files|os\.environ|environment)", 0.45, 0.75),
    Rule("send-user-data", DATA_ZH, r"[^，,。\n]{0,14}(?:发送|发给|上传|转发|导出|发到)", 0.45, 0.75, before=r"(?:把|将)[^，,。\n]{0,14}"),
    Rule("call-tool", ("call the",), r"\s+\w+\s+(?:tool|function)", 0.2, 0.5),
    Rule("call-tool", ("调用", "执行"), r"\s*[\w-]+\s*(?:工具|函数)", 0.2, 0.5),
    Rule("destructive", ("delete all", "remove all", "wipe all", "erase all"), r"\s+(?:of\s+)?(?:the\s+)?(?:user'?s?\s+)?\w+", 0.2, 0.5),
    Rule("destructive", ("删除", "清空"), r"[^。\n]{0,12}(?:所有|全部)", 0.2, 0.5),
    Rule("destructive", ("所有", "全部"), r"[^。\n]{0,8}(?:删除|清空)", 0.2, 0.5),
    Rule("pipe-to-shell", ("curl", "wget"), r"\s+[^\n|]{1,200}\|\s*(?:sudo\s+)?(?:sh|bash|zsh|python)(?![a-z])", 0.35, 0.7),
    Rule("bypass-safety", EVADE, rf"{_SHORT}(?:safety|content|security|ethical|moderation)?\s*{SAFEGUARDS}", 0.75, 0.75),
    Rule("bypass-safety", ("绕过", "规避", "关闭", "跳过", "解除", "无视", "突破"), r"[^，,。\n]{0,6}(?:安全|内容|道德|伦理)[^，,。\n]{0,4}(?:审查|限制|过滤|策略|检查|政策|规则|措施)", 0.75, 0.75),
    Rule("bypass-safety", ("绕过", "规避", "解除"), r"(?:审查|限制|过滤)", 0.75, 0.75),
    Rule("safety-disabled", ("safety", "security", "content"), r"\s+(?:protocols?|filters?|guidelines|polic(?:y|ies)|restrictions|rules)\s+(?:are\s+|is\s+|have\s+been\s+|has\s+been\s+)?(?:disabled|turned\s+off|removed|lifted|suspended)", 0.75, 0.8),
    Rule("safety-disabled", ("关闭", "解除", "取消", "停用"), r"了?(?:所有)?(?:的)?(?:安全|内容)(?:策略|限制|审查|过滤)", 0.75, 0.8),
    Rule("no-refusal", ("never", "do not", "don't", "must not", "mustn't", "cannot", "can't", "will not"), r"\s+(?:refuse|decline)", 0.4, 0.5),
    Rule("no-refusal", ("without refusing", "always answer", "always answers", "不要拒绝", "不得拒绝", "不能拒绝", "不许拒绝", "不准拒绝", "什么都可以说", "什么都可以做", "什么都可以回答", "可以回答任何问题", "可以做任何事"), "", 0.4, 0.5),
    Rule("from-now-on", ("from now on",), r",?\s+you\s+(?:are|will|must|shall)(?![a-z])", 0.3, 0.45),
    Rule("from-now-on", ("从现在开始", "从现在起", "从今以后"), r"[，,\s]*你(?:是|将|要|必须|不再|就是)", 0.3, 0.45),
    Rule("claimed-authority", ("i am your",), r"\s+(?:developer|creator|admin|administrator|owner|programmer)", 0.45, 0.55),
    Rule("claimed-authority", ("我是你的",), r"(?:开发者|管理员|创造者|主人|开发人员)", 0.45, 0.55),
    Rule("claimed-authority", ("user", "用户"), r"\s*(?:has|now\s+has|已获得|已经获得|拥有)\s*(?:admin|管理员)\s*(?:rights|privileges|access|权限)", 0.45, 0.55),
    Rule("authorized", ("this is authorized", "this is authorised", "已获得授权", "已经授权"), "", 0.2, 0.45),
    Rule("authorized", ("authorized by", "authorised by"), r"\s+(?:the\s+)?(?:user|admin|administrator)", 0.2, 0.45),
    Rule("no-longer-assistant", ("stop being",), r"\s+an?\s+assistant", 0.6, 0.6),
    Rule("no-longer-assistant", ("you are no longer",), r"\s+(?:an?\s+)?(?:assistant|bound)", 0.6, 0.6),
    Rule("no-longer-assistant", ("你不再是",), r"(?:一个)?(?:助手|ai)", 0.6, 0.6),
    Rule("obey-only", ("obey only", "only obey", "只听我的", "只服从", "只按我说的"), "", 0.5, 0.6),
    Rule("answer-appendix", ("always",), r"\s+(?:end|start|begin|append|finish)\s+(?:your|every|each)\s+(?:answer|response|reply)", 0.3, 0.6),
    Rule("answer-appendix", ("每次", "所有"), r"(?:回答|回复)都要(?:附上|加上|包含)", 0.3, 0.6),
    Rule("answer-appendix", ("回答都要附上",), "", 0.3, 0.6),
    Rule("fill-placeholder", ("replace", "fill"), r"\s+[\[{<]\w+[\]}>]\s+with", 0.3, 0.6),
    Rule("fill-placeholder", ("把", "将"), r"\s*[\[{<]\w+[\]}>]\s*替换成", 0.3, 0.6),
    Rule("ignore-user-request", ("ignore",), r"\s+(?:the\s+)?user'?s?\s+(?:request|question|query|instructions)", 0.4, 0.75),
    Rule("ignore-user-request", ("忽略用户",), r"(?:之前)?的?(?:要求|请求|问题)", 0.4, 0.75),
)  # fmt: skip

#: Words that mark text as talking *about* injection (teaching, testing, research);
#: matched on the lower-cased text.
DISCUSSION = (
    r"prompt[\s-]+injection|injection\s+attacks?|jailbreak(?:ing)?\s+(?:techniques?|attacks?|detection|prompts?)|"
    r"red[\s-]+team|attackers?|for\s+example|e\.g\.|such\s+as|unit\s+test|test\s+case|"
    r"the\s+phrase|(?<![a-z])flag(?:ged|s)?(?![a-z])|detect(?:ion|or|s)?(?![a-z])|"
    r"mitigat\w*|defen[cs]e|defend|regex|"
    r"提示注入|提示词注入|注入攻击|攻击者|越狱手法|例如|比如|之类|是指|防御|检测|科普|原理"
)  # fmt: skip
#: Quoted spans: 'x', "x", “x”, ‘x’, `x`, 「x」.
QUOTED = r"'[^'\n]{4,200}'|\"[^\"\n]{4,200}\"|“[^”\n]{4,200}”|‘[^’\n]{4,200}’|`[^`\n]{4,200}`|「[^」\n]{4,200}」"

__all__ = ["AI_WORDS", "DISCUSSION", "QUOTED", "RULES", "Rule"]
