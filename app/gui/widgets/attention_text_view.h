// Attention read as text: the prompt's tokens flow like a paragraph; hovering a token
// (the query) shades every earlier token by the weight the query gives it and frames
// the strongest few with their weights. Layout and painting are linear in the number
// of tokens, so the view stays readable and quick at a model's whole context, where
// a token-by-token matrix needs thousands of pixels per side (BertViz's head view stops
// being usable a few hundred tokens in).
#pragma once

#include <QRectF>
#include <QString>
#include <QStringList>
#include <QWidget>
#include <vector>

#include "tensor/tensor.h"

namespace mwb::gui {

class AttentionTextView : public QWidget {
    Q_OBJECT
public:
    static constexpr int kStrongest = 5;  // keys framed and labelled per query

    explicit AttentionTextView(QWidget* parent = nullptr);

    // `weights`: [query x key] of one head (rows sum to 1). `caption` names the head.
    void setAttention(const QStringList& tokens, Matrix weights, const QString& caption);
    void clear();
    int tokenCount() const { return static_cast<int>(m_tokens.size()); }

    // The query whose attention is shown (-1: none); set by hovering or clicking.
    int query() const { return m_query; }
    void setQuery(int query);
    // The strongest keys of the query, strongest first (at most kStrongest).
    std::vector<int> strongestKeys() const { return m_strongest; }
    // Where token i is drawn (widget coordinates); the token under a point or -1.
    QRectF tokenRect(int i) const { return m_rects.at(i); }
    int tokenAt(const QPointF& point) const;
    // The hover text of token i as a query: its text and its strongest keys.
    QString describe(int i) const;

    QSize sizeHint() const override;
    bool hasHeightForWidth() const override { return true; }
    int heightForWidth(int width) const override;

signals:
    void queryChanged(int query);

protected:
    void paintEvent(QPaintEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    bool event(QEvent* event) override;

private:
    // Places the tokens in lines of `width` pixels; returns the height used.
    int layOut(int width, std::vector<QRectF>* rects) const;
    void relayout();

    QStringList m_tokens;
    Matrix m_weights;
    QString m_caption;
    std::vector<QRectF> m_rects;
    int m_query = -1;
    bool m_pinned = false;  // a click keeps the query until the next click
    std::vector<int> m_strongest;
};

}  // namespace mwb::gui
