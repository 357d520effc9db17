"""The validator's English reasons in the user's language, by pattern.

The validator words its reasons in English (the same words ``estateflow validate`` prints);
every page that shows them to a Chinese-reading user (the studio's lint, the process and package
upload pages, the JSON API) translates them here. A reason no pattern fits stays English (the
file, line and element still say where to look); tests/app/assets/test_reason_translation.py
collects every reason from the source and fails on one left without a pattern.
"""
from __future__ import annotations

import re

#: (pattern on the English reason, Chinese template using the pattern's groups)
_ZH: list[tuple[re.Pattern, str]] = [(re.compile(p), zh) for p, zh in [
    (r"^not part of a module package \(expected (.+)\)$", r"不属于模块包的文件结构（应为 \1）"),
    (r"^not listed under (\w+): in (\S+); list it or leave it out$", r"未列在 \2 的 \1: 中；请列入或删除该文件"),
    (r"^the package has no menu entry", "模块包缺少菜单条目（menus/<id>.yaml）"),
    (r"^missing required key$", "缺少必填项"),
    (r"^unknown key$", "未知的键"),
    (r"^missing (zh|en) text$", r"缺少 \1 文本"),
    (r"^must be a mapping \{zh: \.\.\., en: \.\.\.\}$", "应为 {zh: ..., en: ...} 形式"),
    (r"^unknown category '([^']*)' \(expected one of: (.+)\)$", r"未知的分类“\1”（可选：\2）"),
    (r"^(.+): file does not exist$", r"\1：文件不存在"),
    (r"^must be a quoted version string like", "版本号应为带引号的字符串，例如 \"1.0.0\""),
    (r"^unknown field type '([^']*)'", r"未知的字段类型“\1”"),
    (r"^process has no start event", "流程没有开始事件；请在实例开始处添加一个"),
    (r"^condition `(.+)` cannot run: (.+)$", r"条件 `\1` 无法运行：\2"),
    (r"^condition is empty", "条件为空；请填写条件（例如 decision == 'approve'）或删除条件"),
    (r"^this flow out of (.+) has no condition", r"从 \1 出发的这条连线没有条件"),
    (r"^flow leads (\S+) '([^']*)', which does not exist", r"连线指向不存在的元素“\2”"),
    (r"^(.+) has an outgoing flow; nothing runs after an end event$", r"\1 有出线；结束事件之后不再运行任何内容"),
    (r"^(.+) has an incoming flow; nothing can lead into a start or boundary event$",
     r"\1 有入线；开始事件或边界事件不能有入线"),
    (r"^the condition on this flow is ignored", "此连线上的条件会被忽略：只有排他网关或包容网关的出线按条件选择"),
    (r"^the default flow's condition is ignored", "默认连线的条件会被忽略（其他条件都不成立时走默认连线）"),
    (r"^the id '([^']*)' is used twice", r"编号“\1”重复使用"),
    (r"^unknown form '([^']*)'", r"未知的表单“\1”"),
    (r"^unknown operation '([^']*)'", r"未知的操作“\1”"),
    (r"^unknown role '([^']*)'", r"未知的角色“\1”"),
    (r"^module '([^']*)' ships with the installation", r"模块“\1”随系统安装提供，模块包不能替换它（请换一个模块编号）"),
    (r"^process id '([^']*)' belongs to module '([^']*)'", r"流程编号“\1”属于模块“\2”；请为流程改名"),
    (r"^it is not a valid expression \((.+)\)$", r"不是有效的表达式（\1）"),
    # -- files, zips and YAML -----------------------------------------------------------------
    (r"^not a module asset \(expected under", "不是模块资源文件（应位于 menus/、forms/ 或 connectors/profiles/ 下）"),
    (r"^no such file or folder$", "文件或文件夹不存在"),
    (r"^cannot read: (.+)$", r"无法读取：\1"),
    (r"^not a zip file$", "不是 zip 文件"),
    (r"^larger than (\S+) bytes unpacked$", r"解压后超过 \1 字节"),
    (r"^larger than (\S+) bytes$", r"超过 \1 字节"),
    (r"^more than (\S+) files$", r"文件数超过 \1 个"),
    (r"^unsafe path in the zip", "zip 中的路径不安全（绝对路径、'..' 或隐藏文件）"),
    (r"^unsafe file name$", "文件名不安全"),
    (r"^not UTF-8 text$", "不是 UTF-8 文本"),
    (r"^malformed XML: (.+)$", r"XML 格式错误：\1"),
    (r"^DTDs and entity declarations are not allowed$", "不允许 DTD 和实体声明"),
    (r"^DTDs are not allowed$", "不允许 DTD"),
    (r"^stylesheet processing instructions are not allowed", "不允许样式表处理指令（浏览器会执行它们）"),
    (r"^(.+) elements are not allowed in a model", r"模型中不允许 \1 元素（浏览器会渲染或执行它们）"),
    (r"^script elements are not allowed outside BPMN", "BPMN 之外不允许 script 元素（浏览器会执行它们）"),
    (r"^(.+) elements are not allowed outside BPMN", r"BPMN 之外不允许 \1 元素（浏览器会执行它们）"),
    (r"^(.+) are not allowed outside BPMN", r"BPMN 之外不允许 \1（浏览器会执行它们）"),
    (r"^attribute '([^']*)' is not allowed \(event handlers", r"不允许属性“\1”（事件处理器会在浏览器中运行）"),
    (r"^attribute '([^']*)': '([^']*)' URLs are not allowed", r"属性“\1”：不允许 \2 地址（浏览器会执行它们）"),
    # -- module packages ----------------------------------------------------------------------
    (r"^a package carries one module; (.+) is already its menu entry$",
     r"一个模块包只含一个模块；\1 已是它的菜单条目"),
    (r"^belongs to module (.+), but this package is module (.+) \(put it under (.+)\)$",
     r"属于模块 \1，但本模块包是模块 \2（请放在 \3 下）"),
    (r"^notification templates of this package go in (\S+)$", r"本模块包的通知模板应放在 \1"),
    (r"^module (.+) ships with the installation; a package cannot replace it",
     r"模块 \1 随系统安装提供，模块包不能替换它（请换一个模块编号）"),
    (r"^device profile (.+) ships with the installation", r"设备型号 \1 随系统安装提供；模块包只能添加新的设备型号（请换一个名称）"),
    (r"^checklist (.+) already exists \((.+)\); choose another file name$", r"检查表 \1 已存在（\2）；请换一个文件名"),
    (r"^unknown module (.+): upload its module package first \(known: (.*)\)$",
     r"未知的模块 \1：请先上传它的模块包（已有：\2）"),
    (r"^unknown module (.+)$", r"未知的模块 \1"),
    (r"^a package's templates are named (\S+)$", r"模块包的模板应命名为 \1"),
    (r"^process id (.+) is also the process of (.+)$", r"流程编号 \1 也是 \2 的流程"),
    (r"^process id (.+) belongs to module (.+), not (.+); a process id belongs to one module$",
     r"流程编号 \1 属于模块 \2，而不是 \3；一个流程编号只属于一个模块"),
    (r"^process id (.+) belongs to module (.+); a process id belongs to one module",
     r"流程编号 \1 属于模块 \2；一个流程编号只属于一个模块（请为流程改名）"),
    (r"^version (\S+) of module (.+) was already uploaded with other content.*\(e\.g\. \"([^\"]*)\"\)",
     r"模块 \2 的版本 \1 已用其他内容发布过；已发布的版本不能修改，请提高版本号（例如 \"\3\"）后重新上传"),
    (r"^name the module this process belongs to", "请指明此流程所属的模块（例如 notice）；没有模块的流程无法按小区启用"),
    (r"^form files must be named (\S+)$", r"表单文件应命名为 \1"),
    (r"^depends on module (.+), which is in a dependency cycle$", r"依赖的模块 \1 处于循环依赖中"),
    (r"^depends on module (.+), whose menu entry is invalid$", r"依赖的模块 \1 的菜单条目无效"),
    (r"^unknown dependency (.+) \(no (\S+)\)$", r"未知的依赖 \1（没有 \2）"),
    (r"^(.+) calls '([^']*)' \(in (.+)\), which leads back to its own process \((.+)\)",
     r"\1 调用“\2”（位于 \3），又回到它自己的流程（\4）：实例会无休止地启动自身的副本"),
    (r"^(.+) calls '([^']*)', which leads back to its own process \((.+)\)",
     r"\1 调用“\2”，又回到它自己的流程（\3）：实例会无休止地启动自身的副本"),
    (r"^called process '([^']*)' is in (.+), not in this file",
     r"被调用的流程“\1”在 \2 中，不在本文件：调用活动只运行本文件中的流程（请把该流程复制到本文件）"),
    (r"^called process '([^']*)' is not in this file$", r"被调用的流程“\1”不在本文件中"),
    # -- YAML assets (forms, menus, fees, checklists, notifications, test cases) ---------------
    (r"^unknown key \(expected one of:? (.+)\)$", r"未知的键（可选：\1）"),
    (r"^unknown key (.+)$", r"未知的键 \1"),
    (r"^unknown param$", "未知的参数"),
    (r"^unknown language code$", "未知的语言代码"),
    (r"^missing \(needs zh and en\)$", "缺少（需要 zh 和 en 文本）"),
    (r"^missing text$", "缺少文本"),
    (r"^(label )?needs zh and en texts?$", r"需要 zh 和 en 文本"),
    (r"^duplicate id$", "编号重复"),
    (r"^must be a mapping$", "应为映射（键: 值）"),
    (r"^must be a mapping \{period, bounds, prices\}$", "应为 {period, bounds, prices} 形式的映射"),
    (r"^must be a mapping with `items:`$", "应为含 `items:` 的映射"),
    (r"^must be a mapping with title and body$", "应为含 title 和 body 的映射"),
    (r"^must map template ids to \{title, body\}$", "应把模板编号映射到 {title, body}"),
    (r"^must be a mapping with process, steps and expect$", "应为含 process、steps 和 expect 的映射"),
    (r"^must be a mapping of field: value$", "应为“字段: 值”形式的映射"),
    (r"^expected a mapping with id, title and items$", "应为含 id、title 和 items 的映射"),
    (r"^must be an expression$", "应为表达式"),
    (r"^must be an identifier that is not an input variable$", "应为标识符，且不能与输入变量同名"),
    (r"^must be an identifier$", "应为标识符"),
    (r"^must be one of: (.+)$", r"应为以下之一：\1"),
    (r"^must be a non-empty list$", "应为非空列表"),
    (r"^must be a list of element ids$", "应为元素编号列表"),
    (r"^must be a list of steps", "应为步骤列表（task、timer 或 retry）"),
    (r"^must be 0–365 days$", "应为 0–365 天"),
    (r"^must be positive and increasing$", "应为正数且递增"),
    (r"^must not be negative$", "不能为负数"),
    (r"^must be a quoted decimal string$", "应为带引号的小数字符串"),
    (r"^must be a decimal string such as", "应为小数字符串，例如 \"0.85\" 或 \"setting:<name>\""),
    (r"^write decimals as a quoted string, e\.g\. \"([^\"]*)\"$", r"小数请写成带引号的字符串，例如 \"\1\""),
    (r"^bounds and prices are quoted decimal strings$", "bounds 和 prices 应为带引号的小数字符串"),
    (r"^needs one more price than bounds$", "prices 应比 bounds 多一项"),
    (r"^may set only params and enabled$", "只能设置 params 和 enabled"),
    (r"^unknown fee item (.+)$", r"未知的收费项 \1"),
    (r"^unknown variable (.+) \(known: (.+)\)$", r"未知的变量 \1（已有：\2）"),
    (r"^unknown basis (.+) \(expected one of: (.+)\)$", r"未知的计费依据 \1（可选：\2）"),
    (r"^tiered\(\) needs the item's tiers$", "tiered() 需要该收费项的阶梯（tiers）"),
    (r"^a usage item names the meter profile it reads$", "用量类收费项应指明它读取的表计型号"),
    (r"^must be the file name without \.yaml \((.+)\)$", r"应为不含 .yaml 的文件名（\1）"),
    (r"^needs at least one item$", "至少需要一项"),
    (r"^name must be lower case letters, digits and _$", "名称只能包含小写字母、数字和 _"),
    (r"^the same name is used twice$", "同一名称使用了两次"),
    (r"^unknown item type (.+) \(expected one of (.+)\)$", r"未知的检查项类型 \1（可选：\2）"),
    (r"^severity must be one of (.+)$", r"严重程度应为以下之一：\1"),
    (r"^role must be one of (.+)$", r"角色应为以下之一：\1"),
    (r"^min and max are for number items$", "min 和 max 只用于数字项"),
    (r"^min and max must be numbers$", "min 和 max 应为数字"),
    (r"^a number item needs min or max", "数字项需要 min 或 max（合规范围）"),
    (r"^min is above max$", "min 大于 max"),
    (r"^required must be true or false$", "required 应为 true 或 false"),
    # -- BPMN structure -----------------------------------------------------------------------
    (r"^not a BPMN 2\.0 file", "不是 BPMN 2.0 文件（最外层元素应为 bpmn:definitions）"),
    (r"^the engine does not run '([^']*)' elements; remove it$", r"引擎不运行“\1”元素；请删除它"),
    (r"^the engine does not run '([^']*)' elements; (.+)$", r"引擎不运行“\1”元素：\2"),
    (r"^the engine does not use '([^']*)' elements", r"引擎不使用“\1”元素：流程数据保存在表单、脚本和操作设置的变量中；请从图中删除它"),
    (r"^unsupported Camunda extension '([^']*)'$", r"不支持的 Camunda 扩展“\1”"),
    (r"^unsupported Camunda attribute '([^']*)'$", r"不支持的 Camunda 属性“\1”"),
    (r"^input parameter '([^']*)': only text input parameters", r"输入参数“\1”：只支持文本输入参数（不支持 list/map/script）"),
    (r"^Camunda 8 \(Zeebe\) extension '([^']*)' is not supported",
     r"不支持 Camunda 8（Zeebe）扩展“\1”：本平台读取 Camunda 7 方言（请在建模器中选择 Camunda 7）"),
    (r"^extension '([^']*)' of another tool \((.+)\) is ignored$", r"其他工具（\2）的扩展“\1”会被忽略"),
    (r"^the file holds no process", "文件中没有流程（仅有协作图无法运行）"),
    (r"^process is not executable", "流程不可执行（isExecutable=\"false\"）：请在建模器的流程属性中勾选“可执行”后再部署"),
    (r"^every process of the file is called by a call activity",
     "文件中的每个流程都被调用活动调用，因此都无法启动；请保留一个不被调用的主流程"),
    (r"^the file holds (\S+) executable processes that nothing calls \((.+)\)",
     r"文件中有 \1 个不被调用的可执行流程（“\2”）；每个文件部署一个主流程，或把其他流程标为不可执行"),
    (r"^the validator could not check this file \((.+)\)", r"校验器无法检查此文件（\1）；请报告此问题"),
    (r"^the engine cannot build this element \((.+)\)$", r"引擎无法构建此元素（\1）"),
    (r"^the engine cannot build this process \((.+)\)$", r"引擎无法构建此流程（\1）"),
    (r"^has several outgoing flows; put a gateway after it$", "有多条出线；请在其后放一个网关"),
    (r"^a flow leads to an element that does not exist$", "有连线指向不存在的元素"),
    (r"^needs exactly one plain start event inside it$", "内部需要恰好一个普通开始事件"),
    (r"^the process is a longer chain of elements than the engine can read",
     "流程的元素链超过引擎能读取的长度（连续几百个）；请把部分内容移到调用活动中"),
    (r"^use a service task with an operation such as (\S+)$", r"请改用带操作（例如 \1）的服务任务"),
    (r"^use an intermediate catch event with a message$", "请改用带消息的中间捕获事件"),
    (r"^use a script task or an exclusive gateway with conditions$", "请改用脚本任务或带条件的排他网关"),
    (r"^use an inclusive or exclusive gateway$", "请改用包容网关或排他网关"),
    (r"^model the repetition with a gateway and a flow back$", "请用网关和一条回流连线表示重复"),
    (r"^use a timer or a message event$", "请改用定时事件或消息事件"),
    (r"^use a subprocess with a gateway$", "请改用带网关的子流程"),
    (r"^use a subprocess$", "请改用子流程"),
    (r"^use a user task inside the process$", "请改用流程内的用户任务"),
    (r"^use a task inside the process$", "请改用流程内的任务"),
    (r"^put everything the process needs into this one file$", "请把流程需要的一切放进这一个文件"),
    (r"^user task has no form", "用户任务没有表单（camunda:formKey）"),
    (r"^user task has no role", "用户任务没有角色（camunda:candidateGroups 或泳道）"),
    (r"^service task has no operation", "服务任务没有操作（camunda:type=\"external\" camunda:topic=\"<operation>\"）"),
    (r"^exactly one candidate role expected, got '([^']*)'$", r"应恰好有一个候选角色，实际为“\1”"),
    # -- BPMN checks (app/engine/checks.py) ---------------------------------------------------
    (r"^(.+) `(.+)` cannot be filled in \((.+)\); it will be shown as written$",
     r"\1 `\2` 无法填入（\3）；将按原文显示"),
    (r"^(.+) `(.+)` cannot run: (.+)$", r"\1 `\2` 无法运行：\3"),
    (r"^(.+) `(.+)` has a `\$\{` without its closing `\}`$", r"\1 `\2` 中的 `${` 缺少对应的 `}`"),
    (r"^message has no name", "消息没有名称：请填写发送方使用的名称，例如 payment.received（实例按此名称接收）"),
    (r"^signal has no name", "信号没有名称：请填写发送时使用的名称"),
    (r"^(.+) names no (\S+): choose a global (\S+) in the modeler", r"\1 没有指定 \2：请在建模器中选择一个全局 \3（到达的是它的名称）"),
    (r"^(.+) refers to (\S+) '([^']*)', which is not defined in this file$", r"\1 引用的 \2“\3”未在本文件中定义"),
    (r"^(.+): the timer has no time", r"\1：定时器没有时间；请设置时长（PT2H）、日期（2026-05-01T18:00:00+08:00）或周期（R3/PT1H）"),
    (r"^(.+) is empty; write (.+)$", r"\1 为空；请填写 \2"),
    (r"^(.+) `(.+)` is not (.+) \(ISO 8601, no spaces or words\)$", r"\1 `\2` 不是 \3（ISO 8601 格式，不含空格或文字）"),
    (r"^due date `(.+)` is not an ISO 8601 duration",
     r"到期时间 `\1` 不是 ISO 8601 时长（PT24H、P2D）、日期（2026-05-01T18:00:00+08:00）或 ${表达式}"),
    (r"^(.+) `(.+)` is not (.+)$", r"\1 `\2` 不是 \3"),
    (r"^flow has no (\S+) element; connect both of its ends", r"连线没有 \1 元素；请在建模器中连接它的两端"),
    (r"^flow leads (\S+) '([^']*)' \(line (\S+)\), which is not in the same \(sub\)process",
     r"连线指向的“\2”（第 \3 行）不在同一（子）流程中；连线不能跨越子流程边界"),
    (r"^(.+) has no outgoing flow: an instance reaching it could not go on", r"\1 没有出线：到达这里的实例无法继续；请添加一条出线"),
    (r"^(.+): its default flow '([^']*)' is not one of its outgoing flows$", r"\1：它的默认连线“\2”不是它的出线"),
    (r"^a flow out of an event-based gateway must lead to an intermediate catch event",
     "事件网关的出线必须指向中间捕获事件（消息或定时器）"),
    (r"^(.+) has (\S+) outgoing flows; the engine does not split without a gateway",
     r"\1 有 \2 条出线；没有网关时引擎不会分支：请在其后放一个并行网关（所有路径）或排他网关（一条路径）"),
    (r"^(.+) needs exactly one plain start event inside it \(found (\S+)\)$", r"\1 内部需要恰好一个普通开始事件（找到 \2 个）"),
    (r"^(.+) cannot be reached from a start event", r"\1 无法从开始事件到达，因此永远不会运行；请连接或删除它"),
    (r"^(.+) names no process to call", r"\1 没有指定要调用的流程（属性 “Called element”）"),
    (r"^(.+) runs as a pass-through step", r"\1 作为直通步骤运行：流程会直接继续（需要人确认的工作请用用户任务）"),
    (r"^(.+): script format '([^']*)' is not supported",
     r"\1：不支持脚本格式“\2”；脚本使用平台的表达式语言（Python 风格的赋值），请把格式留空"),
    (r"^(.+): external script resources are not supported", r"\1：不支持外部脚本资源；请直接在内部编写脚本"),
    (r"^(.+) has no script; write one such as", r"\1 没有脚本；请编写一个（例如 total = amount * 2），或改用普通任务"),
    (r"^script cannot run: (.+)$", r"脚本无法运行：\1"),
    (r"^(.+) reads '([^']*)', which no form, script or operation of this process sets",
     r"\1 读取“\2”，但本流程没有表单、脚本或操作设置它，实例启动时也没有它；除非启动者或消息传入，否则运行时会失败"),
    # -- the expression checker's words (app/engine/evaluator.py) ------------------------------
    (r"^attribute access to '([^']*)' is not allowed", r"不允许访问属性“\1”"),
    (r"^assigning to attribute '([^']*)' is not allowed$", r"不允许给属性“\1”赋值"),
    (r"^assigning to (.+) is not allowed$", r"不允许给\1赋值"),
    (r"^name '([^']*)' is not allowed \(names starting with '_' are reserved\)$", r"不允许使用名称“\1”（以 _ 开头的名称是保留的）"),
    (r"^name '([^']*)' is not defined$", r"名称“\1”未定义"),
    (r"^calling the result of an expression is not allowed$", "不允许调用表达式的结果"),
    (r"^calling this is not allowed$", "不允许调用它"),
    (r"^unpacking \('\*\*'\) in calls is not allowed$", "调用中不允许解包（'**'）"),
    (r"^async comprehensions are not allowed$", "不允许异步推导式"),
    (r"^'%' string formatting is not allowed: use f-strings$", "不允许用 '%' 格式化字符串：请用 f-string"),
    (r"^format spec (.+) is not allowed$", r"不允许格式说明 \1"),
    (r"^format spec (.+) is too wide$", r"格式说明 \1 过宽"),
    (r"^operator (\S+) is not allowed$", r"不允许运算符 \1"),
    (r"^nested too deeply \(more than (\S+) levels\)$", r"嵌套过深（超过 \1 层）"),
    (r"^(expression|script) is nested too deeply$", r"\1嵌套过深"),
    (r"^(expression|script) is too long \((\S+) characters, at most (\S+)\)$", r"\1过长（\2 个字符，最多 \3 个）"),
    (r"^(expression|script) is empty$", r"\1为空"),
    (r"^cannot parse (expression|script): (.+)$", r"无法解析\1：\2"),
    (r"^script has too many statements \((\S+), at most (\S+)\)$", r"脚本语句过多（\1 条，最多 \2 条）"),
    (r"^syntax error: (.+)$", r"语法错误：\1"),
    (r"^invalid syntax$", "语法无效"),
    (r"^(.+) is not allowed$", r"不允许\1"),
    # -- lxml's words after "malformed XML:" --------------------------------------------------
    (r"^Document is empty, line (\d+), column (\d+)$", r"文档为空（第 \1 行，第 \2 列）"),
    (r"^Opening and ending tag mismatch: (\S+) line (\d+) and (\S+), line (\d+), column (\d+)$",
     r"开始标签与结束标签不匹配：第 \2 行的 \1 与 \3（第 \4 行，第 \5 列）"),
    (r"^Excessive depth in document: (\d+).*line (\d+), column (\d+)$", r"文档嵌套过深（超过 \1 层，第 \2 行，第 \3 列）"),
    # -- PyYAML's common words (app/assets/yaml_lines.py: context and problem) ---------------
    (r"mapping values are not allowed here$", "YAML 语法错误：此处不允许映射值（检查冒号和缩进）"),
    (r"could not find expected ':'$", "YAML 语法错误：找不到应有的“:”"),
    (r"found character '(.+)' that cannot start any token$", r"YAML 语法错误：字符 '\1' 不能作为内容的开头（例如制表符：请用空格缩进）"),
    (r"expected <block end>, but found '?([^']*)'?$", r"YAML 语法错误：缩进有误（此处出现了“\1”）"),
    (r"^while parsing a flow \w+ expected (.+), but got (.+)$", r"YAML 语法错误：应为 \1，实际为 \2"),
    (r"found unexpected end of stream$", "YAML 语法错误：引号没有闭合"),
    (r"found duplicate anchor|found undefined alias", "YAML 语法错误：锚点或别名有误"),
    # -- studio test cases --------------------------------------------------------------------
    (r"^the process file the test runs", "测试运行的流程文件，例如 bpmn/<id>/<name>.bpmn"),
    (r"^a step names one element", "每个步骤指定一个元素：task: <id>、timer: <id> 或 retry: <id>"),
    (r"^must say what the run ends with", "应说明运行的结果（status、path、waiting）"),
    (r"^the process cannot start: (.+)$", r"流程无法启动：\1"),
    (r"^(.+): the task is not ready; (.+)$", r"\1：任务尚未就绪；\2"),
    (r"^(.+): the form (\S+) refuses the data \((.+)\)$", r"\1：表单 \2 拒绝了这些数据（\3）"),
    (r"^(.+): no such timer is waiting; (.+)$", r"\1：没有这样的定时器在等待；\2"),
    (r"^(.+): no incident is open there; (.+)$", r"\1：那里没有未处理的故障；\2"),
    (r"^the run ended (\S+), the test case expects (.+)$", r"运行结束于 \1，测试用例期望 \2"),
    (r"^the path differs from element (\S+) \((.+)\) on: expected (.*), got (.*)$",
     r"路径从第 \1 个元素（\2）起不同：期望 \3，实际 \4"),
    (r"^tasks still ready: expected (.*), got (.*)$", r"仍就绪的任务：期望 \1，实际 \2"),
    (r"^the test case could not be replayed: (.+)$", r"测试用例无法回放：\1"),
]]


#: the validator's English words for elements and values (``checks.label``, ``what``), as they
#: stand in a reason's placeholders: "user task 'Approve'", "timer duration", "condition"
_TERMS = {
    "task": "任务", "user task": "用户任务", "service task": "服务任务", "script task": "脚本任务",
    "manual task": "人工任务", "call activity": "调用活动", "subprocess": "子流程",
    "exclusive gateway": "排他网关", "parallel gateway": "并行网关", "inclusive gateway": "包容网关",
    "event-based gateway": "事件网关", "start event": "开始事件", "end event": "结束事件",
    "intermediate event": "中间事件", "boundary event": "边界事件", "flow": "连线",
    "condition": "条件", "due date": "到期时间", "assignee": "办理人", "task title": "任务标题",
    "input parameter": "输入参数", "timer duration": "定时时长", "timer date": "定时日期",
    "timer cycle": "定时周期", "message": "消息", "signal": "信号", "from": "从", "to": "到",
    "expression": "表达式", "script": "脚本", "lambda": "lambda 表达式", "assignment": "赋值",
    "annotated assignment": "带注解的赋值", "set comprehension": "集合推导式", "an attribute": "属性",
    "an ISO 8601 duration such as PT2H, P3D or P1DT12H": "ISO 8601 时长，例如 PT2H、P3D 或 P1DT12H",
    "an ISO 8601 date and time such as 2026-05-01T18:00:00+08:00":
        "ISO 8601 日期时间，例如 2026-05-01T18:00:00+08:00",
    "an ISO 8601 repetition such as R3/PT1H or R/P1D": "ISO 8601 重复周期，例如 R3/PT1H 或 R/P1D",
}
#: the expression checker's words with a code part: "loop ('while')", "operator '<<'"
_CODE_TERMS = [(re.compile(p), zh) for p, zh in [
    (r"^loop \('([^']*)'\)$", "循环（'{0}'）"), (r"^function definition \('([^']*)'\)$", "函数定义（'{0}'）"),
    (r"^class definition \('([^']*)'\)$", "类定义（'{0}'）"), (r"^assignment expression \('([^']*)'\)$", "赋值表达式（'{0}'）"),
    (r"^unpacking \('([^']*)'\)$", "解包（'{0}'）"), (r"^operator '([^']*)'$", "运算符 '{0}'"),
    (r"^'([^']*)' statement$", "'{0}' 语句"),
]]
_LABEL = re.compile("^(" + "|".join(re.escape(t) for t in sorted(_TERMS, key=len, reverse=True))
                    + ")(?: '(.*)')?$")


def _term(text: str | None) -> str:
    """A placeholder in Chinese when it is one of the validator's words (``user task 'X'``)."""
    match = _LABEL.match(text or "")
    if not match:
        for pattern, zh in _CODE_TERMS:
            if code := pattern.match(text or ""):
                return zh.format(code[1])
        return text or ""
    return _TERMS[match[1]] + (f"“{match[2]}”" if match[2] is not None else "")


def _group(match: re.Match, index: int) -> str:
    """One placeholder in Chinese: an element word, or a nested reason (not a quoted name or code)."""
    text = match[index] or ""
    termed = _term(text)
    if termed != text:
        return termed
    start = match.start(index)
    if " " in text and not (start and match.string[start - 1] in "`'\""):
        return translate(text, "zh")
    return text


def _expand(match: re.Match, zh: str) -> str:
    groups = [_group(match, i + 1) for i in range(len(match.groups()))]
    return re.sub(r'\\(\d|")', lambda k: '"' if k[1] == '"' else groups[int(k[1]) - 1], zh)


#: "结束事件 有出线" → "结束事件有出线", "任务“X” 没有" → "任务“X”没有" (no space beside Chinese words)
_CJK_SPACE = re.compile(r"(?<=[\u4e00-\u9fff”）]) (?=[\u4e00-\u9fff“（])")


def translate(reason: str, locale: str) -> str:
    """The validator's English reason in the user's language (English when no pattern fits)."""
    if not (locale or "").startswith("zh"):
        return reason
    prefix = ""
    if reason.startswith("warning: "):
        prefix, reason = "警告：", reason[len("warning: "):]
    for pattern, zh in _ZH:
        match = pattern.search(reason)
        if match:
            head, sep, tail = _CJK_SPACE.sub("", _expand(match, zh)).partition("：")
            return prefix + head + sep + (translate(tail, locale) if sep else "")  # "…无法运行：<reason>" too
    return prefix + reason


def shown(error, locale: str) -> str:
    """One finding as ``file:line: element: reason`` with the reason in the user's language."""
    reason = getattr(error, "reason", None)
    if reason is None:
        return str(error)
    prefix = "warning: " if error.is_warning else ""
    return f"{error.file}:{error.line}: {error.element}: {translate(prefix + reason, locale)}"


def finding(error, locale: str) -> dict:
    """One finding as ``{path, line, element, message, severity}`` (the studio's and the API's shape)."""
    return {"path": error.file, "line": error.line, "element": error.element,
            "message": translate(error.reason, locale), "severity": "warning" if error.is_warning else "error"}
