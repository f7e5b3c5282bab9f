// Token-flow attention view.
#include "app/gui/widgets/attention_text_view.h"

#include <algorithm>
#include <numeric>

#include <QFontMetricsF>
#include <QHelpEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>

namespace mwb::gui {
namespace {

constexpr double kPadX = 3.0, kPadY = 2.0, kGapX = 2.0, kGapY = 14.0, kMargin = 8.0;
constexpr double kMinWidth = 30.0;  // room for a weight ("0.94") under the narrowest token
constexpr double kCaption = 22.0;  // the caption's line above the tokens

// A token as drawn: spaces visible as a middle dot so that " the" and "the" differ.
QString shown(const QString& token) {
    QString out = token;
    out.replace(QLatin1Char(' '), QChar(0x00B7));
    out.replace(QLatin1Char('\n'), QStringLiteral("\u21B5"));
    return out.isEmpty() ? QStringLiteral("\u2205") : out;
}

}  // namespace

AttentionTextView::AttentionTextView(QWidget* parent) : QWidget(parent) {
    setMouseTracking(true);
    QSizePolicy policy(QSizePolicy::Expanding, QSizePolicy::Preferred);
    policy.setHeightForWidth(true);  // a scroll area around it asks for the height of its width
    setSizePolicy(policy);
    setBackgroundRole(QPalette::Base);
    setAutoFillBackground(true);
}

void AttentionTextView::setAttention(const QStringList& tokens, Matrix weights, const QString& caption) {
    m_tokens = tokens;
    m_weights = std::move(weights);
    m_caption = caption;
    const int keep = m_query;
    m_query = -1;
    relayout();
    setQuery(keep >= 0 && keep < tokenCount() ? keep : tokenCount() - 1);
}

void AttentionTextView::clear() {
    m_tokens.clear();
    m_weights.resize(0, 0);
    m_caption.clear();
    m_query = -1;
    m_pinned = false;
    m_strongest.clear();
    relayout();
}

int AttentionTextView::layOut(int width, std::vector<QRectF>* rects) const {
    const QFontMetricsF metrics(font());
    const double lineHeight = metrics.height() + 2 * kPadY;
    double x = kMargin, y = kMargin + kCaption;
    if (rects) rects->clear();
    for (const QString& token : m_tokens) {
        const double w = std::max(kMinWidth, metrics.horizontalAdvance(shown(token)) + 2 * kPadX);
        if (x + w > width - kMargin && x > kMargin) {
            x = kMargin;
            y += lineHeight + kGapY;
        }
        if (rects) rects->emplace_back(x, y, w, lineHeight);
        x += w + kGapX;
    }
    return static_cast<int>(y + lineHeight + kMargin + 14);  // room for a weight label under the last line
}

void AttentionTextView::relayout() {
    layOut(width(), &m_rects);
    updateGeometry();
    update();
}

int AttentionTextView::heightForWidth(int width) const { return layOut(width, nullptr); }

QSize AttentionTextView::sizeHint() const { return {600, heightForWidth(600)}; }

void AttentionTextView::resizeEvent(QResizeEvent* event) {
    QWidget::resizeEvent(event);
    layOut(width(), &m_rects);
}

void AttentionTextView::setQuery(int query) {
    if (query < -1 || query >= tokenCount()) query = -1;
    m_query = query;
    m_strongest.clear();
    if (query >= 0 && m_weights.rows() == tokenCount()) {
        std::vector<int> keys(static_cast<size_t>(query) + 1);
        std::iota(keys.begin(), keys.end(), 0);
        const int k = std::min<int>(kStrongest, static_cast<int>(keys.size()));
        std::partial_sort(keys.begin(), keys.begin() + k, keys.end(), [&](int a, int b) {
            const float wa = m_weights(query, a), wb = m_weights(query, b);
            return wa != wb ? wa > wb : a < b;
        });
        m_strongest.assign(keys.begin(), keys.begin() + k);
    }
    update();
    emit queryChanged(query);
}

int AttentionTextView::tokenAt(const QPointF& point) const {
    // Rows are in order: the first rect below the point's line, then along the line.
    auto it = std::lower_bound(m_rects.begin(), m_rects.end(), point.y(),
                               [](const QRectF& r, double y) { return r.bottom() < y; });
    for (; it != m_rects.end() && it->top() <= point.y(); ++it)
        if (it->contains(point)) return static_cast<int>(it - m_rects.begin());
    return -1;
}

QString AttentionTextView::describe(int i) const {
    if (i < 0 || i >= tokenCount()) return {};
    QString text = tr("query %1 '%2'").arg(i).arg(m_tokens[i]);
    if (i == m_query && !m_strongest.empty()) {
        QStringList keys;
        for (int k : m_strongest)
            keys << tr("%1 '%2' %3").arg(k).arg(m_tokens[k]).arg(m_weights(m_query, k), 0, 'f', 3);
        text += tr("\nattends most to: ") + keys.join(QStringLiteral(", "));
    }
    return text;
}

void AttentionTextView::mouseMoveEvent(QMouseEvent* event) {
    if (m_pinned) return;
    const int i = tokenAt(event->position());
    if (i >= 0 && i != m_query) setQuery(i);
}

void AttentionTextView::mousePressEvent(QMouseEvent* event) {
    const int i = tokenAt(event->position());
    m_pinned = i >= 0 && !(m_pinned && i == m_query);
    if (i >= 0) setQuery(i);
}

bool AttentionTextView::event(QEvent* event) {
    if (event->type() == QEvent::ToolTip) {
        const auto* help = static_cast<QHelpEvent*>(event);
        const QString text = describe(tokenAt(help->pos()));
        if (text.isEmpty())
            QToolTip::hideText();
        else
            QToolTip::showText(help->globalPos(), text, this);
        return true;
    }
    return QWidget::event(event);
}

void AttentionTextView::paintEvent(QPaintEvent* event) {
    QPainter p(this);
    const QRect visible = event->rect();
    p.setPen(palette().color(QPalette::Text));
    const QString caption =
        m_tokens.isEmpty() ? tr("Show attention to read it here, token by token.")
                           : m_caption + tr("  \u2014 hover a token (click to keep it): the earlier tokens it attends to "
                                            "are shaded by weight, the %1 strongest framed")
                                             .arg(kStrongest);
    p.drawText(QRectF(kMargin, 4, width() - 2 * kMargin, kCaption), Qt::AlignLeft | Qt::AlignVCenter, caption);
    const bool active = m_query >= 0 && m_weights.rows() == tokenCount();
    float rowMax = 0.0f;
    if (active) rowMax = m_weights.row(m_query).maxCoeff();
    const QColor shade(33, 113, 181);
    QFont small = font();
    small.setPointSizeF(std::max(6.0, font().pointSizeF() * 0.75));
    for (int i = 0; i < tokenCount(); ++i) {
        const QRectF& r = m_rects[i];
        if (!r.intersects(visible)) continue;  // only what is on screen is painted
        QColor fill = Qt::transparent;
        QColor text = palette().color(QPalette::Text);
        if (active && i <= m_query && rowMax > 0.0f) {
            const double f = m_weights(m_query, i) / rowMax;
            fill = shade;
            fill.setAlphaF(0.08 + 0.85 * f);
            if (f > 0.55) text = Qt::white;
        }
        p.fillRect(r, fill);
        const bool strong = std::find(m_strongest.begin(), m_strongest.end(), i) != m_strongest.end();
        if (i == m_query) {
            p.setPen(QPen(QColor(214, 39, 40), 2));
            p.drawRect(r.adjusted(1, 1, -1, -1));
        } else if (strong) {
            p.setPen(QPen(QColor(8, 48, 107), 1.5));
            p.drawRect(r.adjusted(0.5, 0.5, -0.5, -0.5));
        }
        p.setPen(active && i > m_query ? palette().color(QPalette::PlaceholderText) : text);
        p.drawText(r, Qt::AlignCenter, shown(m_tokens[i]));
        if (strong && i != m_query) {
            p.setFont(small);
            p.setPen(QColor(8, 48, 107));
            p.drawText(QRectF(r.left(), r.bottom(), std::max(r.width(), 30.0), 12), Qt::AlignLeft | Qt::AlignTop,
                       QString::number(m_weights(m_query, i), 'f', 2));
            p.setFont(font());
        }
    }
}

}  // namespace mwb::gui
