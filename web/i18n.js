/**
 * Every string the UI shows, one dictionary per language. Elements carrying `data-i18n` (text),
 * `data-i18n-placeholder` or `data-i18n-aria-label` are translated by
 * `applyTranslations`, so switching language re-labels the whole page, dynamic rows included.
 */

/** @typedef {"zh-CN" | "en"} Language */
/** @typedef {Record<string, string | number>} MessageArgs */
/** @typedef {string | ((args: MessageArgs) => string)} Message a template with {name} placeholders, or a function where English needs plurals */

/**
 * @param {string | number | undefined} count
 * @param {string} noun
 */
function plural(count, noun) {
    return `${count} ${noun}${Number(count) === 1 ? "" : "s"}`;
}

const zhCN = {
    appTitle: "已知",
    appSubtitle: "本地知识库问答",
    switchLanguage: "English",
    switchLanguageLabel: "切换到英文界面",
    readyOk: "模型已就绪",
    readyLoading: "模型加载中…",
    readyDown: "服务不可用",
    conversations: "对话",
    newConversation: "新对话",
    renameConversation: "重命名",
    renameConversationLabel: "重命名对话 {title}",
    deleteConversationLabel: "删除对话 {title}",
    confirmDeleteConversation: "确定删除对话「{title}」吗？",
    conversationTurns: "{turns} 轮",
    saveConversationFailed: "保存对话失败：{message}",
    error_conversation_not_found: "对话不存在，可能已被删除。",
    readyMissingModels: "模型文件缺失",
    readyMissingModelsHelp: "服务器上缺少模型文件：请在服务器上运行 yizhi models pull（或设置模型路径），几秒内即可生效。服务器日志里写明了需要哪些文件。",
    readyFailedHelp: "模型无法使用：{message}",
    themeToggleLabel: "切换浅色/深色",
    themeLight: "浅色",
    themeDark: "深色",
    dismiss: "关闭",
    dismissLabel: "关闭提示",
    close: "关闭",
    clearUploads: "清除列表",
    filterDocuments: "筛选文档",
    docFilterEmpty: "没有名称匹配的文档。",
    docIngestedAt: "导入于 {time}",
    openDocumentLabel: "查看文档 {name}",
    documentMeta: "{chunks} 个片段 · {format} · {size}",
    lexicalThreshold: "关键词相关度阈值（0 到 1）",
    thresholdHint_hybrid: "混合检索：向量相似度低于向量阈值、且关键词相关度低于关键词阈值的片段被排除；都被排除时拒绝回答。",
    thresholdHint_dense: "向量检索：只用向量相似度阈值，低于它的片段被排除；都被排除时拒绝回答。",
    thresholdHint_bm25: "关键词检索：只用关键词相关度阈值，低于它的片段被排除；都被排除时拒绝回答。",
    scoreMeaning_dense: "得分是向量余弦相似度（−1 到 1，越高越相关）。",
    scoreMeaning_lexical: "得分是关键词相关度 BM25（0 到 1，约为片段含有的问题词语比例）。",
    scoreMeaning_fused: "得分是向量与关键词两种排名的融合（RRF，0 到 1，越高越相关）。",
    scoreMeaning_rerank: "得分是重排模型给出的相关度（0 到 1）。",
    copy: "复制",
    copied: "已复制",
    regenerate: "重新生成",
    uploadParsing: "正在解析…",
    uploadOcr: "正在识别扫描页 {done}/{total}",
    uploadEmbedding: "正在向量化 {done}/{total}",
    error_kb_not_found: "知识库不存在，可能已被删除。",
    error_kb_exists: "已有同名知识库。",
    error_invalid_kb_name: "知识库名称不可用：{message}",
    error_document_not_found: "文档不存在，可能已被删除。",
    error_file_too_large: "文件超过了服务器允许的大小。",
    error_upload_too_large: "这次上传的文件总大小超过了服务器的限制。",
    error_rate_limited: "请求太频繁，请稍后再试。",
    error_queue_full: "服务器正忙，请稍后再试。",
    error_not_ready: "模型尚未就绪：{message}",
    error_model_not_found: "服务器上缺少模型文件，请在服务器上运行 yizhi models pull。",
    error_model_unreachable: "无法连接模型服务器，请稍后再试。",
    error_model_server_failed: "模型服务器出错：{message}",
    error_model_server_refused: "模型服务器拒绝了请求：{message}",
    error_storage_unavailable: "存储暂时不可用：{message}",
    error_insufficient_storage: "服务器磁盘已满。",
    error_forbidden: "当前密钥没有这项权限。",
    error_unauthorized: "需要有效的 API 密钥。",
    error_network: "无法连接服务器，请检查网络或服务是否在运行。",
    error_kb_busy: "知识库正在被另一个任务写入，请稍后再试。",
    error_embedder_mismatch: "这个知识库是用另一个向量模型建立的：{message}",
    knowledgeBases: "知识库",
    kbListLabel: "知识库列表",
    kbEmpty: "还没有知识库，请先新建一个。",
    kbCounts: "{documents} 篇文档 · {chunks} 个片段",
    newKbName: "新知识库名称",
    newKbPlaceholder: "例如：规章制度",
    createKb: "新建",
    createKbFailed: "新建知识库失败：{message}",
    deleteKb: "删除知识库",
    confirmDeleteKb: "确定删除知识库「{name}」及其全部文档吗？此操作无法撤销。",
    deleteKbFailed: "删除知识库失败：{message}",
    noKbSelected: "请选择或新建一个知识库。",
    documents: "文档",
    docEmpty: "这个知识库还没有文档。",
    docChunks: "{chunks} 个片段",
    deleteDoc: "删除",
    deleteDocLabel: "删除文档 {name}",
    confirmDeleteDoc: "确定删除文档「{name}」吗？它的所有片段都会从索引中移除。",
    deleteDocFailed: "删除文档失败：{message}",
    loadFailed: "加载失败：{message}",
    upload: "上传文档",
    dropHint: "把文件拖到这里，或",
    chooseFiles: "选择文件",
    supportedFormats: "支持 PDF、Word（DOCX/DOC）、PPT 幻灯片、Excel、OpenDocument、RTF、EPUB、邮件（EML）、ZIP 压缩包、网页、Markdown、TXT、CSV，可一次选择多个文件。",
    uploadWaiting: "等待上传",
    uploadProcessing: "正在解析和向量化…",
    uploadIngested: "已导入，{chunks} 个片段",
    uploadUnchanged: "内容未变化，已跳过",
    uploadSkipped: "已跳过：{reason}",
    uploadFailed: "失败：{reason}",
    chat: "问答",
    conversationLabel: "对话记录",
    chatEmpty: "选择知识库后，在下方提问。回答只依据知识库中的内容，并标注出处。",
    questionLabel: "问题",
    questionPlaceholder: "输入问题，按 Enter 发送，Shift+Enter 换行",
    ask: "发送",
    stop: "停止",
    advanced: "高级设置",
    topK: "检索片段数（topK）",
    scoreThreshold: "向量相似度阈值（−1 到 1）",
    retrievalMode: "检索方式",
    modeHybrid: "混合（向量 + 关键词）",
    modeDense: "向量",
    modeBm25: "关键词（BM25）",
    defaultValue: "默认",
    you: "你",
    assistant: "已知",
    thinking: "正在检索和生成…",
    refusedLabel: "未找到相关内容",
    stopped: "已停止",
    answerFailed: "回答失败：{message}",
    sources: "出处",
    sourcePage: "第 {page} 页",
    sourceOcr: "OCR 识别 · 置信度 {confidence}%",
    sourceScore: "得分 {score}",
    citationLabel: "查看出处 {n}",
    apiKeyTitle: "需要 API 密钥",
    apiKeyHint: "这个服务需要 API 密钥。密钥只保存在本标签页中，关闭后即清除。",
    apiKeyInvalid: "密钥无效，请重新输入。",
    apiKeyLabel: "API 密钥",
    apiKeyRequired: "需要 API 密钥",
    confirmTitle: "请确认",
    ok: "确定",
    cancel: "取消",
    delete: "删除",
    networkError: "无法连接服务器",
    invalidStream: "服务器返回的流格式不正确",
};

/** @type {Record<MessageKey, Message>} */
const en = {
    appTitle: "Yizhi",
    appSubtitle: "Local knowledge-base Q&A",
    switchLanguage: "中文",
    switchLanguageLabel: "Switch to Chinese",
    readyOk: "Models ready",
    readyLoading: "Loading models…",
    readyDown: "Service unavailable",
    conversations: "Conversations",
    newConversation: "New conversation",
    renameConversation: "Rename",
    renameConversationLabel: "Rename conversation {title}",
    deleteConversationLabel: "Delete conversation {title}",
    confirmDeleteConversation: "Delete the conversation \u201c{title}\u201d?",
    conversationTurns: (args) => plural(args.turns, "turn"),
    saveConversationFailed: "Could not save the conversation: {message}",
    error_conversation_not_found: "The conversation does not exist; it may have been deleted.",
    readyMissingModels: "Model files missing",
    readyMissingModelsHelp: "The server lacks its model files: run yizhi models pull on the server (or set the model paths); it picks them up within seconds. The server's log names the files.",
    readyFailedHelp: "The models cannot be used: {message}",
    themeToggleLabel: "Switch between light and dark",
    themeLight: "Light",
    themeDark: "Dark",
    dismiss: "Dismiss",
    dismissLabel: "Dismiss this message",
    close: "Close",
    clearUploads: "Clear list",
    filterDocuments: "Filter documents",
    docFilterEmpty: "No document's name matches.",
    docIngestedAt: "added {time}",
    openDocumentLabel: "Open document {name}",
    documentMeta: (args) => `${plural(args.chunks, "chunk")} · ${args.format} · ${args.size}`,
    lexicalThreshold: "Keyword relevance threshold (0 to 1)",
    thresholdHint_hybrid: "Hybrid: a chunk is left out when it is below the similarity threshold and below the keyword threshold; with none left, the question is refused.",
    thresholdHint_dense: "Dense: only the similarity threshold applies; with no chunk above it, the question is refused.",
    thresholdHint_bm25: "Keywords: only the keyword threshold applies; with no chunk above it, the question is refused.",
    scoreMeaning_dense: "Scores are cosine similarity of the embeddings (−1 to 1, higher is closer).",
    scoreMeaning_lexical: "Scores are BM25 keyword relevance (0 to 1, about the share of the question's words a chunk has).",
    scoreMeaning_fused: "Scores fuse the embedding and keyword rankings (RRF, 0 to 1, higher is better).",
    scoreMeaning_rerank: "Scores are the reranker's relevance (0 to 1).",
    copy: "Copy",
    copied: "Copied",
    regenerate: "Regenerate",
    uploadParsing: "Parsing…",
    uploadOcr: "Reading scanned pages {done}/{total}",
    uploadEmbedding: "Embedding {done}/{total}",
    error_kb_not_found: "The knowledge base does not exist; it may have been deleted.",
    error_kb_exists: "A knowledge base of that name exists already.",
    error_invalid_kb_name: "That name cannot be used: {message}",
    error_document_not_found: "The document does not exist; it may have been deleted.",
    error_file_too_large: "The file is larger than the server accepts.",
    error_upload_too_large: "The files of this upload are larger together than the server accepts.",
    error_rate_limited: "Too many requests; try again shortly.",
    error_queue_full: "The server is busy; try again shortly.",
    error_not_ready: "The models are not ready: {message}",
    error_model_not_found: "The server lacks its model files: run yizhi models pull on the server.",
    error_model_unreachable: "The model server cannot be reached; try again shortly.",
    error_model_server_failed: "The model server failed: {message}",
    error_model_server_refused: "The model server refused the request: {message}",
    error_storage_unavailable: "The storage cannot be used now: {message}",
    error_insufficient_storage: "The server's disk is full.",
    error_forbidden: "This key may not do that.",
    error_unauthorized: "A valid API key is needed.",
    error_network: "The server cannot be reached: check the network, or whether the service is running.",
    error_kb_busy: "Another job is writing to this knowledge base; try again shortly.",
    error_embedder_mismatch: "This knowledge base was built with another embedding model: {message}",
    knowledgeBases: "Knowledge bases",
    kbListLabel: "Knowledge base list",
    kbEmpty: "No knowledge bases yet. Create one first.",
    kbCounts: (args) => `${plural(args.documents, "document")} · ${plural(args.chunks, "chunk")}`,
    newKbName: "New knowledge base name",
    newKbPlaceholder: "e.g. policies",
    createKb: "Create",
    createKbFailed: "Could not create the knowledge base: {message}",
    deleteKb: "Delete knowledge base",
    confirmDeleteKb: "Delete the knowledge base “{name}” and all its documents? This cannot be undone.",
    deleteKbFailed: "Could not delete the knowledge base: {message}",
    noKbSelected: "Select or create a knowledge base.",
    documents: "Documents",
    docEmpty: "This knowledge base has no documents yet.",
    docChunks: (args) => plural(args.chunks, "chunk"),
    deleteDoc: "Delete",
    deleteDocLabel: "Delete document {name}",
    confirmDeleteDoc: "Delete the document “{name}”? All its chunks are removed from the index.",
    deleteDocFailed: "Could not delete the document: {message}",
    loadFailed: "Could not load: {message}",
    upload: "Upload documents",
    dropHint: "Drop files here, or",
    chooseFiles: "choose files",
    supportedFormats: "PDF, Word (DOCX, DOC), PowerPoint, Excel, OpenDocument, RTF, EPUB, e-mail (EML), ZIP archives, web pages, Markdown, TXT and CSV; several files at once.",
    uploadWaiting: "Waiting",
    uploadProcessing: "Parsing and embedding…",
    uploadIngested: (args) => `Ingested, ${plural(args.chunks, "chunk")}`,
    uploadUnchanged: "Unchanged, skipped",
    uploadSkipped: "Skipped: {reason}",
    uploadFailed: "Failed: {reason}",
    chat: "Ask",
    conversationLabel: "Conversation",
    chatEmpty: "Pick a knowledge base, then ask below. Answers come only from its documents, with sources.",
    questionLabel: "Question",
    questionPlaceholder: "Type a question; Enter sends, Shift+Enter adds a line",
    ask: "Send",
    stop: "Stop",
    advanced: "Advanced",
    topK: "Chunks to retrieve (topK)",
    scoreThreshold: "Cosine threshold (−1 to 1)",
    retrievalMode: "Retrieval",
    modeHybrid: "Hybrid (vectors + keywords)",
    modeDense: "Vectors",
    modeBm25: "Keywords (BM25)",
    defaultValue: "default",
    you: "You",
    assistant: "Yizhi",
    thinking: "Retrieving and generating…",
    refusedLabel: "No relevant information found",
    stopped: "Stopped",
    answerFailed: "Could not answer: {message}",
    sources: "Sources",
    sourcePage: "page {page}",
    sourceOcr: "read by OCR · {confidence}% confidence",
    sourceScore: "score {score}",
    citationLabel: "Show source {n}",
    apiKeyTitle: "API key required",
    apiKeyHint: "This service needs an API key. It is kept in this tab only and cleared when the tab closes.",
    apiKeyInvalid: "That key was not accepted. Try again.",
    apiKeyLabel: "API key",
    apiKeyRequired: "An API key is required",
    confirmTitle: "Please confirm",
    ok: "OK",
    cancel: "Cancel",
    delete: "Delete",
    networkError: "Cannot reach the server",
    invalidStream: "The server sent a malformed stream",
};

/** @typedef {keyof typeof zhCN} MessageKey */

/** @type {Record<Language, Record<MessageKey, Message>>} */
const dictionaries = { "zh-CN": zhCN, en };

const storageKey = "yizhi.language";

/** @type {Language} */
let current = readStoredLanguage();

/** @returns {Language} */
function readStoredLanguage() {
    return localStorage.getItem(storageKey) === "en" ? "en" : "zh-CN";
}

/** @returns {Language} */
export function language() {
    return current;
}

/**
 * @param {MessageKey} key
 * @param {MessageArgs} [args]
 */
export function t(key, args = {}) {
    const message = dictionaries[current][key];
    if (typeof message === "function") return message(args);
    return message.replace(/\{(\w+)\}/g, (whole, name) => (Object.hasOwn(args, name) ? String(args[name]) : whole));
}

/**
 * @param {string} key
 * @returns {key is MessageKey} whether the page has a message of that name
 */
export function hasMessage(key) {
    return Object.hasOwn(dictionaries[current], key);
}

/**
 * Sets an element's text to a message and remembers which, so a language switch re-labels it.
 * @param {HTMLElement} element
 * @param {MessageKey} key
 * @param {MessageArgs} [args] shared by all of the element's messages
 */
export function setMessage(element, key, args) {
    element.dataset.i18n = key;
    storeArgs(element, args);
    element.textContent = t(key, args);
}

/**
 * Sets an element's accessible name to a message, re-labelled on a language switch like `setMessage`.
 * @param {HTMLElement} element
 * @param {MessageKey} key
 * @param {MessageArgs} [args] shared by all of the element's messages
 */
export function setLabel(element, key, args) {
    element.dataset.i18nAriaLabel = key;
    storeArgs(element, args);
    element.setAttribute("aria-label", t(key, args));
}

/**
 * @param {HTMLElement} element
 * @param {MessageArgs | undefined} args
 */
function storeArgs(element, args) {
    if (args != null) element.dataset.i18nArgs = JSON.stringify(args);
}

/** @type {Array<[string, string | null]>} data-* attribute (kebab case) and the attribute it fills; null: the text */
const bindings = [
    ["i18n", null],
    ["i18n-placeholder", "placeholder"],
    ["i18n-aria-label", "aria-label"],
];

export function applyTranslations() {
    document.documentElement.lang = current;
    for (const [name, attribute] of bindings) {
        for (const element of document.querySelectorAll(`[data-${name}]`)) {
            const key = /** @type {MessageKey} */ (element.getAttribute(`data-${name}`));
            const rawArgs = element.getAttribute("data-i18n-args");
            const text = t(key, rawArgs == null ? undefined : JSON.parse(rawArgs));
            if (attribute == null) element.textContent = text;
            else element.setAttribute(attribute, text);
        }
    }
}

/** @param {Language} next */
export function setLanguage(next) {
    current = next;
    localStorage.setItem(storageKey, next);
    applyTranslations();
}
