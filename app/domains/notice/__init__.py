"""Notice (公告): the announcement module. All of it is data — ``bpmn/notice/``,
``forms/notice/``, ``menus/notice.yaml`` — plus its demo state; no Python rules of its own."""
