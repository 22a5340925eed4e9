from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from counter import api as counter_api
from coupons import api as coupons_api
from growth import api as growth_api
from growth import poster_api as growth_poster_api
from loyalty.health import HealthSlashView, HealthView
from mall import api as mall_api
from members import api as members_api
from members import closure_api
from membership import api as membership_api
from migration import export_views
from notifications import api as notifications_api
from orders import api as orders_api
from payments import api as payments_api
from points import api as points_api
from stored_value import api as stored_value_api

api_v1 = [
    path("auth/wechat-login", members_api.WechatLoginView.as_view(), name="auth-wechat-login"),
    path("auth/dev-login", members_api.DevLoginView.as_view(), name="auth-dev-login"),
    path("auth/logout", members_api.LogoutView.as_view(), name="auth-logout"),
    path("me", members_api.MeView.as_view(), name="me"),
    path("me/profile", members_api.ProfileView.as_view(), name="me-profile"),
    path("me/phone", members_api.PhoneBindView.as_view(), name="me-phone"),
    path("me/member-code", members_api.MemberCodeView.as_view(), name="me-member-code"),
    path(
        "me/counter-payments/pending",
        orders_api.PendingCounterPaymentsView.as_view(),
        name="me-counter-payments-pending",
    ),
    path(
        "me/counter-payments/<int:pk>/confirm",
        orders_api.ConfirmCounterPaymentView.as_view(),
        name="me-counter-payment-confirm",
    ),
    path(
        "me/counter-payments/<int:pk>/decline",
        orders_api.DeclineCounterPaymentView.as_view(),
        name="me-counter-payment-decline",
    ),
    path("me/notifications", notifications_api.NotificationsView.as_view(), name="me-notifications"),
    path(
        "me/notifications/<int:pk>/read",
        notifications_api.MarkReadView.as_view(),
        name="me-notification-read",
    ),
    path("me/subscriptions", notifications_api.SubscriptionsView.as_view(), name="me-subscriptions"),
    path("me/close", closure_api.CloseAccountView.as_view(), name="me-close"),
    path("me/export", export_views.MyDataExportView.as_view(), name="me-export"),
    path("points", points_api.BalanceView.as_view(), name="points-balance"),
    path("points/entries", points_api.EntriesView.as_view(), name="points-entries"),
    path("points/check-in", points_api.CheckInView.as_view(), name="points-check-in"),
    path("points/check-ins", points_api.CheckInCalendarView.as_view(), name="points-check-ins"),
    path("stored-value", stored_value_api.BalanceView.as_view(), name="stored-value-balance"),
    path("stored-value/plans", stored_value_api.PlansView.as_view(), name="stored-value-plans"),
    path("stored-value/recharges", stored_value_api.RechargesView.as_view(), name="stored-value-recharges"),
    path(
        "stored-value/recharges/<int:pk>",
        stored_value_api.RechargeDetailView.as_view(),
        name="stored-value-recharge",
    ),
    path("stored-value/entries", stored_value_api.EntriesView.as_view(), name="stored-value-entries"),
    path("payments/wechat/notify", payments_api.WechatNotifyView.as_view(), name="payments-wechat-notify"),
    path("payments/<str:out_trade_no>/prepay", payments_api.PrepayView.as_view(), name="payments-prepay"),
    path(
        "payments/<str:out_trade_no>/simulate-pay",
        payments_api.SimulatePayView.as_view(),
        name="payments-simulate-pay",
    ),
    path("coupons", coupons_api.MyCouponsView.as_view(), name="coupons"),
    path("coupons/claim-centre", coupons_api.ClaimCentreView.as_view(), name="coupons-claim-centre"),
    path("coupons/claim", coupons_api.ClaimView.as_view(), name="coupons-claim"),
    path("coupons/<int:pk>", coupons_api.CouponDetailView.as_view(), name="coupon"),
    path("server/coupons/redeem", coupons_api.ServerRedeemView.as_view(), name="server-coupons-redeem"),
    path("membership/tier", membership_api.MyTierView.as_view(), name="membership-tier"),
    path(
        "membership/tier-history", membership_api.MyTierHistoryView.as_view(), name="membership-tier-history"
    ),
    path("membership/benefits", membership_api.MyBenefitsView.as_view(), name="membership-benefits"),
    path("membership/cards", membership_api.MyCardsView.as_view(), name="membership-cards"),
    path("membership/card-types", membership_api.CardOffersView.as_view(), name="membership-card-types"),
    path("membership/cards/claim", membership_api.CardClaimView.as_view(), name="membership-card-claim"),
    path("membership/cards/trial", membership_api.CardTrialView.as_view(), name="membership-card-trial"),
    path(
        "membership/card-purchases",
        membership_api.CardPurchasesView.as_view(),
        name="membership-card-purchases",
    ),
    path(
        "membership/card-purchases/<int:pk>",
        membership_api.CardPurchaseDetailView.as_view(),
        name="membership-card-purchase",
    ),
    path("membership/member-days", membership_api.MemberDaysView.as_view(), name="membership-member-days"),
    path(
        "server/member-code/resolve",
        counter_api.ServerMemberCodeResolveView.as_view(),
        name="server-member-code-resolve",
    ),
    path("server/members/lookup", members_api.ServerMemberLookupView.as_view(), name="server-member-lookup"),
    path("checkout/quote", orders_api.MemberQuoteView.as_view(), name="checkout-quote"),
    path("orders", orders_api.MyOrdersView.as_view(), name="orders"),
    path("orders/<str:order_no>", orders_api.MyOrderView.as_view(), name="order"),
    path("server/checkout/quote", orders_api.ServerQuoteView.as_view(), name="server-checkout-quote"),
    path("server/orders", orders_api.ServerCommitView.as_view(), name="server-orders"),
    path("server/orders/<str:order_no>", orders_api.ServerOrderView.as_view(), name="server-order"),
    path(
        "server/orders/<str:order_no>/cancel",
        orders_api.ServerCancelView.as_view(),
        name="server-order-cancel",
    ),
    path(
        "server/orders/<str:order_no>/complete",
        orders_api.ServerCompleteView.as_view(),
        name="server-order-complete",
    ),
    path(
        "server/orders/<str:order_no>/refunds",
        orders_api.ServerRefundView.as_view(),
        name="server-order-refunds",
    ),
    path("health", HealthView.as_view(), name="health"),
    path("health/", HealthSlashView.as_view(), name="health-slash"),
    # Points mall
    path("mall/categories", mall_api.CategoriesView.as_view(), name="mall-categories"),
    path("mall/items", mall_api.ItemsView.as_view(), name="mall-items"),
    path("mall/items/<int:pk>", mall_api.ItemDetailView.as_view(), name="mall-item"),
    path("mall/redemptions", mall_api.RedemptionsView.as_view(), name="mall-redemptions"),
    path("mall/redemptions/<int:pk>", mall_api.RedemptionDetailView.as_view(), name="mall-redemption"),
    path(
        "mall/redemptions/<int:pk>/confirm-receipt",
        mall_api.ConfirmReceiptView.as_view(),
        name="mall-redemption-confirm",
    ),
    path("mall/redemptions/<int:pk>/cancel", mall_api.CancelView.as_view(), name="mall-redemption-cancel"),
    path("mall/addresses", mall_api.AddressesView.as_view(), name="mall-addresses"),
    path("mall/addresses/<int:pk>", mall_api.AddressDetailView.as_view(), name="mall-address"),
    # 拼团 group buying
    path("growth/group-buys", growth_api.ActivitiesView.as_view(), name="growth-activities"),
    path("growth/group-buys/<int:pk>", growth_api.ActivityDetailView.as_view(), name="growth-activity"),
    path("growth/groups", growth_api.GroupsView.as_view(), name="growth-groups"),
    path("growth/groups/<int:pk>", growth_api.GroupDetailView.as_view(), name="growth-group"),
    path("growth/groups/<int:pk>/join", growth_api.JoinView.as_view(), name="growth-group-join"),
    path("growth/my-groups", growth_api.MyPlacesView.as_view(), name="growth-my-groups"),
    path("growth/my-groups/<int:pk>", growth_api.MyPlaceView.as_view(), name="growth-my-group"),
    # 砍价 bargaining
    path(
        "growth/bargain-activities",
        growth_api.BargainActivitiesView.as_view(),
        name="growth-bargain-activities",
    ),
    path("growth/bargains", growth_api.BargainsView.as_view(), name="growth-bargains"),
    path("growth/bargains/<int:pk>", growth_api.BargainDetailView.as_view(), name="growth-bargain"),
    path("growth/bargains/<int:pk>/help", growth_api.HelpView.as_view(), name="growth-bargain-help"),
    path("growth/bargains/<int:pk>/buy", growth_api.BuyView.as_view(), name="growth-bargain-buy"),
    path("growth/posters", growth_poster_api.PosterView.as_view(), name="growth-poster"),
    path("growth/poster-scene", growth_poster_api.PosterSceneView.as_view(), name="growth-poster-scene"),
]

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    # The member export page, under the member list (it starts an export job: migration's ExportJobAdmin).
    path(
        "admin/members/export/", admin.site.admin_view(export_views.member_export_page), name="member-export"
    ),
    path("admin/", admin.site.urls),
    # The clerk page (店员核销), on a phone at a counter.
    path("counter/", include("counter.urls")),
    # The admin's language switch (Chinese by default, English on request).
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/", include(api_v1)),
]

handler404 = "loyalty.api.fallback_views.page_not_found"
handler500 = "loyalty.api.fallback_views.server_error"
